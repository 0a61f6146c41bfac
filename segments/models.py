"""Segments: computed traits per profile, segment definitions, membership history, runs."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cdp.models import Profile


class ProfileTraits(models.Model):
    """Behavioural traits of one profile, computed from its events.

    Windowed figures (30/90/365 days) are exact when computed; the nightly batch keeps
    them true as time passes without new events.
    """

    profile = models.OneToOneField(
        Profile, on_delete=models.CASCADE, primary_key=True, related_name="traits"
    )
    first_purchase_at = models.DateTimeField(null=True, blank=True)
    last_purchase_at = models.DateTimeField(null=True, blank=True, db_index=True)
    purchase_count = models.PositiveIntegerField(default=0)
    purchase_count_30d = models.PositiveIntegerField(default=0)
    purchase_count_90d = models.PositiveIntegerField(default=0, db_index=True)
    purchase_count_365d = models.PositiveIntegerField(default=0)
    revenue_total = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    revenue_30d = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    revenue_90d = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    revenue_365d = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    avg_basket = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    last_activity_at = models.DateTimeField(null=True, blank=True, db_index=True)
    email_opens_30d = models.PositiveIntegerField(default=0)
    email_clicks_30d = models.PositiveIntegerField(default=0)
    # RFM quintiles, 1 (low) to 5 (high); null for profiles without purchases.
    rfm_recency = models.PositiveSmallIntegerField(null=True, blank=True)
    rfm_frequency = models.PositiveSmallIntegerField(null=True, blank=True)
    rfm_monetary = models.PositiveSmallIntegerField(null=True, blank=True)
    rfm_score = models.PositiveSmallIntegerField(null=True, blank=True, db_index=True)
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "profile traits"

    def __str__(self) -> str:
        return f"traits of {self.profile_id}"


class Segment(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.TextField(blank=True)
    # The rule tree (see segments.rules); validated before it is stored.
    definition = models.JSONField()
    schema_version = models.PositiveSmallIntegerField(default=1)
    # Cron expression (minute hour day month weekday), Europe/Paris; "" = manual only.
    schedule = models.CharField(max_length=100, default="0 * * * *", blank=True)
    enabled = models.BooleanField(default=True)
    # Derived from the definition on save: what re-evaluation on ingest listens to.
    event_types = models.JSONField(default=list, blank=True)
    depends_on = models.ManyToManyField(
        "self", symmetrical=False, related_name="used_by", blank=True
    )
    size = models.PositiveIntegerField(default=0)
    last_success_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SegmentMembership(models.Model):
    """One stay of a profile in a segment; exited_at is null while it is a member."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="memberships")
    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="memberships")
    entered_at = models.DateTimeField()
    exited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["segment", "profile"],
                condition=Q(exited_at__isnull=True),
                name="membership_one_open_stay",
            )
        ]
        indexes = [
            models.Index(fields=["profile", "segment"], name="membership_profile_segment"),
        ]

    def __str__(self) -> str:
        return f"{self.profile_id} in {self.segment_id}"


class SegmentRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", _("Schedule")
        MANUAL = "manual", _("Manual")
        EVENT = "event", _("Event")
        RETRY = "retry", _("Retry")

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.MANUAL)
    started_at = models.DateTimeField()
    # Lease: a running run whose heartbeat is older than the lease is considered dead.
    heartbeat_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    size = models.PositiveIntegerField(null=True, blank=True)
    added = models.PositiveIntegerField(null=True, blank=True)
    removed = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    jaccard = models.FloatField(null=True, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["segment", "-started_at"], name="segmentrun_recent")]
        constraints = [
            # At most one running run per segment: the lease.
            models.UniqueConstraint(
                fields=["segment"], condition=Q(status="running"), name="segmentrun_one_running"
            )
        ]

    def __str__(self) -> str:
        return f"{self.segment_id} {self.status} {self.started_at:%Y-%m-%d %H:%M}"
