"""Identity resolution: trained models, the review queue, constraints, history, golden
records. Records (cdp.SourceRecord) say which profile they belong to; this app decides.
"""

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from cdp.models import Profile, SourceRecord


class IdentityModel(models.Model):
    """One trained Splink model (its JSON), with what it was trained on and how."""

    version = models.PositiveIntegerField(unique=True, verbose_name=_("version"))
    trained_at = models.DateTimeField(verbose_name=_("trained at"))
    record_count = models.PositiveIntegerField(verbose_name=_("record count"))
    # Splink's model dict (settings with the trained m/u and prior).
    splink_model = models.JSONField(verbose_name=_("Splink model"))
    # Training report: durations, parameters; charts as self-contained HTML by name.
    report = models.JSONField(default=dict, blank=True, verbose_name=_("report"))
    charts = models.JSONField(default=dict, blank=True, verbose_name=_("charts"))
    active = models.BooleanField(default=False, verbose_name=_("active"))

    class Meta:
        verbose_name = _("identity model")
        verbose_name_plural = _("identity models")
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["active"], condition=Q(active=True),
                                    name="identitymodel_one_active")
        ]

    def __str__(self) -> str:
        return f"v{self.version}"


class MatchReview(models.Model):
    """A pair scored between the review and link thresholds, for a person to decide.

    A decision is final: accepted is a must-link, rejected a cannot-link, for every later
    run; decided pairs are also labels to evaluate and retrain the model.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        ACCEPTED = "accepted", _("Same person")
        REJECTED = "rejected", _("Different people")

    # record_a.pk < record_b.pk, so a pair is stored once.
    record_a = models.ForeignKey(
        SourceRecord, on_delete=models.CASCADE, related_name="+", verbose_name=_("record A"),
    )
    record_b = models.ForeignKey(
        SourceRecord, on_delete=models.CASCADE, related_name="+", verbose_name=_("record B"),
    )
    probability = models.FloatField(verbose_name=_("probability"))
    # Per comparison: level label and match weight (Splink's waterfall), no values.
    explanation = models.JSONField(default=list, blank=True, verbose_name=_("explanation"))
    model_version = models.PositiveIntegerField(
        null=True, blank=True, verbose_name=_("model version"),
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING, verbose_name=_("status"),
    )
    created_at = models.DateTimeField(verbose_name=_("queued at"))
    decided_at = models.DateTimeField(null=True, blank=True, verbose_name=_("decided at"))
    decided_by = models.CharField(max_length=150, blank=True, verbose_name=_("decided by"))

    class Meta:
        verbose_name = _("match review")
        verbose_name_plural = _("review queue")
        constraints = [
            models.UniqueConstraint(fields=["record_a", "record_b"], name="matchreview_once"),
            models.CheckConstraint(condition=Q(record_a__lt=F("record_b")),
                                   name="matchreview_ordered"),
        ]
        indexes = [models.Index(fields=["status", "-probability"], name="matchreview_queue")]

    def __str__(self) -> str:
        return f"{self.record_a_id}~{self.record_b_id} {self.status}"


class RecordSplit(models.Model):
    """An unmerge: this record was split off, and must never again share a profile with
    the records it was split from (a cannot-link that survives every later run)."""

    record = models.ForeignKey(SourceRecord, on_delete=models.CASCADE, related_name="+")
    apart_from = models.JSONField(default=list)  # record ids
    created_at = models.DateTimeField()
    actor = models.CharField(max_length=150)
    reason = models.CharField(max_length=300, blank=True)

    def __str__(self) -> str:
        return f"split {self.record_id}"


class IdentityEvent(models.Model):
    """A change of who is who: a merge, a split, a new profile, an unmerge."""

    class Kind(models.TextChoices):
        CREATE = "create", _("New profile")
        MERGE = "merge", _("Merged")
        SPLIT = "split", _("Split")
        UNMERGE = "unmerge", _("Unmerged by a person")
        MOVE = "move", _("Records moved")

    kind = models.CharField(max_length=16, choices=Kind.choices, verbose_name=_("kind"))
    profile_id = models.UUIDField(db_index=True, verbose_name=_("profile id"))
    # The other profile involved (merged into / split from).
    other_profile_id = models.UUIDField(null=True, blank=True, verbose_name=_("other profile id"))
    record_ids = models.JSONField(default=list, verbose_name=_("record ids"))
    # Why: the rule ("deterministic:email", "model:v3", "review", "unmerge") and score.
    rule = models.CharField(max_length=64, verbose_name=_("rule"))
    score = models.FloatField(null=True, blank=True, verbose_name=_("score"))
    actor = models.CharField(max_length=150, verbose_name=_("actor"))
    at = models.DateTimeField(verbose_name=_("date"))

    class Meta:
        verbose_name = _("identity event")
        verbose_name_plural = _("identity events")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.profile_id}"


class ProfileRedirect(models.Model):
    """A retired profile id and the profile it was merged into, so that systems holding
    the old id can follow it. Ids are never reused for another person."""

    old_id = models.UUIDField(primary_key=True)
    new_id = models.UUIDField(db_index=True)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.old_id} -> {self.new_id}"


class IdentifierFlag(models.Model):
    """A strong identifier value shared by too many records (a shop's phone number):
    ignored as a linking key. Blind index only."""

    kind = models.CharField(max_length=16, verbose_name=_("kind"))
    bidx = models.CharField(max_length=64, verbose_name=_("blind index"))
    record_count = models.PositiveIntegerField(verbose_name=_("record count"))
    flagged_at = models.DateTimeField(verbose_name=_("flagged at"))

    class Meta:
        verbose_name = _("flagged identifier")
        verbose_name_plural = _("flagged identifiers")
        constraints = [models.UniqueConstraint(fields=["kind", "bidx"],
                                               name="identifierflag_once")]

    def __str__(self) -> str:
        return f"{self.kind} shared by {self.record_count}"


class GoldenRecord(models.Model):
    """A profile's best value per field, as the id of the record holding it (values stay
    encrypted in that record: nothing personal is copied here)."""

    profile = models.OneToOneField(Profile, on_delete=models.CASCADE, primary_key=True,
                                   related_name="golden")
    sources = models.JSONField(default=dict)  # field -> source record id
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name = _("golden record")
        verbose_name_plural = _("golden records")

    def __str__(self) -> str:
        return f"golden {self.profile_id}"


class TermFrequency(models.Model):
    """How common a name is (share of records), from the last full resolution: the
    term-frequency adjustment of incremental scoring. Keyed by keyed hash, not the name."""

    column = models.CharField(max_length=32)
    key = models.CharField(max_length=32)
    frequency = models.FloatField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["column", "key"],
                                               name="termfrequency_once")]

    def __str__(self) -> str:
        return f"{self.column} {self.frequency:.5f}"


class BlockingKey(models.Model):
    """A record's blocking keys (keyed hashes of the values Splink blocks on), so that
    incremental matching finds a new record's candidates through an index."""

    # Derived data rewritten whole by every full run (cdp.db.table_reload): no database
    # foreign key to check per row; deleting a record through the ORM still cascades.
    record = models.ForeignKey(SourceRecord, on_delete=models.CASCADE, related_name="+",
                               db_index=False, db_constraint=False)
    key = models.CharField(max_length=24)

    class Meta:
        # Looked up by equality only: a plain btree (db_index would add a LIKE index too,
        # built for nothing by every full run).
        indexes = [models.Index(fields=["key"], name="blockingkey_key")]
        constraints = [models.UniqueConstraint(fields=["record", "key"],
                                               name="blockingkey_once")]

    def __str__(self) -> str:
        return f"{self.record_id}:{self.key}"
