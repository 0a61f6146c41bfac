"""Activation: destinations, audience syncs, what was last sent, runs, erasure deliveries.

The engine (connectors.engine) compares a segment's consented members with SyncMember,
what it last sent to the destination, and sends only the difference. Personal data kept
here (the email a member was sent under, needed to take them out of a tag later) is
sealed under the data key of the record it came from, so erasure shreds it too.
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cdp.models import Purpose, SubjectRequest
from segments.models import Segment


class Destination(models.Model):
    """A vendor account the CDP sends audiences to, with its limits."""

    class Kind(models.TextChoices):
        MAILCHIMP = "mailchimp", "Mailchimp"
        HUBSPOT = "hubspot", "HubSpot"
        SALESFORCE = "salesforce", "Salesforce"
        WEBHOOK = "webhook", _("Webhook")

    name = models.SlugField(max_length=64, unique=True, verbose_name=_("name"))
    kind = models.CharField(max_length=16, choices=Kind.choices, verbose_name=_("kind"))
    # "" = the vendor's; may hold "{dc}" (Mailchimp data center, taken from the API key).
    base_url = models.CharField(max_length=300, blank=True, verbose_name=_("base URL"))
    # JSON of the secrets (API key, webhook signing secret), AES-GCM under the master key.
    credentials_enc = models.BinaryField(null=True, editable=False)
    # Vendor field -> profile field ("first_name") or trait ("traits.revenue_total").
    field_mapping = models.JSONField(default=dict, blank=True, verbose_name=_("field mapping"))
    purpose = models.ForeignKey(
        Purpose, on_delete=models.PROTECT, related_name="+", verbose_name=_("purpose"),
    )
    # Empty = the vendor's documented limits (connectors.registry).
    rate_per_s = models.FloatField(null=True, blank=True, verbose_name=_("requests per second"))
    max_concurrency = models.PositiveSmallIntegerField(
        null=True, blank=True, verbose_name=_("concurrent requests"),
    )
    batch_size = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("batch size"))
    timeout_s = models.FloatField(default=30, verbose_name=_("timeout (seconds)"))
    max_retries = models.PositiveSmallIntegerField(default=6, verbose_name=_("maximum retries"))
    # A run whose share of failed members is above this is flagged.
    failure_threshold = models.FloatField(default=0.05, verbose_name=_("failure threshold"))
    # Opt-out webhooks from the vendor must carry this token (random, shown in admin).
    inbound_token = models.CharField(
        max_length=64, blank=True, editable=False, verbose_name=_("inbound token"),
    )
    enabled = models.BooleanField(default=True, verbose_name=_("enabled"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("destination")
        verbose_name_plural = _("destinations")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AudienceSync(models.Model):
    """A segment kept in step with a container at a destination."""

    class Mode(models.TextChoices):
        # Add and update members, take out those the CDP itself put in.
        UPSERT_AND_REMOVE = "upsert_and_remove", _("Upsert and remove")
        # The container holds exactly the audience: strangers in it are taken out too.
        MIRROR = "mirror", _("Mirror")

    segment = models.ForeignKey(
        Segment, on_delete=models.PROTECT, related_name="syncs", verbose_name=_("segment"),
    )
    destination = models.ForeignKey(
        Destination, on_delete=models.PROTECT, related_name="syncs", verbose_name=_("destination"),
    )
    mode = models.CharField(
        max_length=24, choices=Mode.choices, default=Mode.UPSERT_AND_REMOVE, verbose_name=_("mode"),
    )
    # Mailchimp: {"list_id": "...", "tag": "cdp:vip"}; HubSpot: {"list_id": "..."} or
    # {"list_name": "..."}; Salesforce: {"campaign_id": "..."}; webhook: {"url": "..."}.
    container = models.JSONField(default=dict, verbose_name=_("container"))
    # Cron (minute hour day month weekday), Europe/Paris; "" = on changes and nightly only.
    schedule = models.CharField(max_length=100, blank=True, default="", verbose_name=_("schedule"))
    enabled = models.BooleanField(default=True, verbose_name=_("enabled"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    last_run_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last run at"))

    class Meta:
        verbose_name = _("audience sync")
        verbose_name_plural = _("audience syncs")
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.segment_id} -> {self.destination_id}"


class SyncMember(models.Model):
    """What the CDP last sent for one profile of one sync, and how it went."""

    class Status(models.TextChoices):
        SYNCED = "synced", _("Synced")
        # Not confirmed yet (retryable failure, or a run that stopped): sent again.
        PENDING = "pending", _("Pending")
        # Refused by the vendor for this member (invalid email...): retried once it changes.
        REJECTED = "rejected", _("Rejected")

    sync = models.ForeignKey(AudienceSync, on_delete=models.CASCADE, related_name="members")
    # No foreign key: the row outlives an erased profile until the vendor confirms.
    profile_id = models.UUIDField()
    # The vendor's id (Mailchimp subscriber hash; webhook: the profile id).
    remote_id = models.CharField(max_length=64, blank=True)
    # The email last sent, sealed under the data key of the record it came from.
    email_enc = models.BinaryField(null=True)
    data_key_id = models.UUIDField(null=True)
    # SHA-256 of the mapped fields last confirmed (or last refused, for REJECTED).
    field_hash = models.CharField(max_length=64, blank=True)
    in_container = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    error = models.CharField(max_length=300, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name = _("sync member")
        verbose_name_plural = _("sync members")
        constraints = [
            models.UniqueConstraint(fields=["sync", "profile_id"], name="syncmember_once")
        ]
        indexes = [models.Index(fields=["profile_id"], name="syncmember_profile")]

    def __str__(self) -> str:
        return f"{self.sync_id}:{self.profile_id} {self.status}"


class SyncRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        PARTIAL = "partial", _("Partial (some members pending)")
        FAILED = "failed", _("Failed")

    class Trigger(models.TextChoices):
        CHANGE = "change", _("Segment change")
        SCHEDULE = "schedule", _("Schedule")
        MANUAL = "manual", _("Manual")
        NIGHTLY = "nightly", _("Nightly reconciliation")
        PRIVACY = "privacy", _("Withdrawal, restriction or erasure")

    sync = models.ForeignKey(
        AudienceSync, on_delete=models.CASCADE, related_name="runs",
        verbose_name=_("audience sync"),
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.RUNNING, verbose_name=_("status"),
    )
    trigger = models.CharField(max_length=16, choices=Trigger.choices, verbose_name=_("trigger"))
    started_at = models.DateTimeField(verbose_name=_("started at"))
    heartbeat_at = models.DateTimeField(verbose_name=_("heartbeat at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))
    added = models.PositiveIntegerField(default=0, verbose_name=_("added"))
    updated = models.PositiveIntegerField(default=0, verbose_name=_("updated"))
    removed = models.PositiveIntegerField(default=0, verbose_name=_("removed"))
    unchanged = models.PositiveIntegerField(default=0, verbose_name=_("unchanged"))
    failed = models.PositiveIntegerField(default=0, verbose_name=_("failed"))
    skipped_consent = models.PositiveIntegerField(default=0, verbose_name=_("skipped (consent)"))
    # Members the destination cannot take (no email for an email tool).
    skipped_unreachable = models.PositiveIntegerField(
        default=0, verbose_name=_("skipped (unreachable)"),
    )
    # Differences the nightly read-back found and repaired; opt-outs brought back.
    repaired = models.PositiveIntegerField(default=0, verbose_name=_("repaired"))
    opt_outs = models.PositiveIntegerField(default=0, verbose_name=_("opt-outs"))
    api_calls = models.PositiveIntegerField(default=0, verbose_name=_("API calls"))
    write_calls = models.PositiveIntegerField(default=0, verbose_name=_("write calls"))
    retries = models.PositiveIntegerField(default=0, verbose_name=_("retries"))
    duration_ms = models.PositiveIntegerField(
        null=True, blank=True, verbose_name=_("duration (ms)"),
    )
    failure_rate = models.FloatField(null=True, blank=True, verbose_name=_("failure rate"))
    flagged = models.BooleanField(default=False, verbose_name=_("flagged"))
    error = models.TextField(blank=True, verbose_name=_("error"))

    class Meta:
        verbose_name = _("sync run")
        verbose_name_plural = _("sync runs")
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["sync"], condition=Q(status="running"), name="syncrun_one_running"
            )
        ]

    def __str__(self) -> str:
        return f"{self.sync_id} {self.status} {self.started_at:%Y-%m-%d %H:%M}"


class ErasureDelivery(models.Model):
    """Proof of an erasure at one destination: retried until the vendor confirms."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed (retrying)")
        MANUAL = "manual", _("Manual action needed")

    request = models.ForeignKey(
        SubjectRequest, on_delete=models.PROTECT, null=True, blank=True,
        related_name="deliveries",
        verbose_name=_("subject request"),
    )
    destination = models.ForeignKey(
        Destination, on_delete=models.PROTECT, related_name="erasures",
        verbose_name=_("destination")
    )
    profile_id = models.UUIDField(verbose_name=_("profile id"))
    # Where the person is at the vendor: Mailchimp list id + subscriber hash, etc.
    container = models.JSONField(default=dict, verbose_name=_("container"))
    remote_id = models.CharField(max_length=64, verbose_name=_("vendor id"))
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING, verbose_name=_("status"),
    )
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    # What the vendor answered (status code and title; never personal data).
    vendor_response = models.CharField(
        max_length=300, blank=True, verbose_name=_("vendor response"),
    )
    created_at = models.DateTimeField(verbose_name=_("created at"))
    updated_at = models.DateTimeField(verbose_name=_("updated at"))
    done_at = models.DateTimeField(null=True, blank=True, verbose_name=_("done at"))

    class Meta:
        verbose_name = _("erasure delivery")
        verbose_name_plural = _("erasure deliveries")
        constraints = [
            models.UniqueConstraint(
                fields=["destination", "remote_id", "profile_id", "request"],
                name="erasure_delivery_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.destination_id}:{self.remote_id[:8]} {self.status}"
