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

    name = models.SlugField(max_length=64, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # "" = the vendor's; may hold "{dc}" (Mailchimp data center, taken from the API key).
    base_url = models.CharField(max_length=300, blank=True)
    # JSON of the secrets (API key, webhook signing secret), AES-GCM under the master key.
    credentials_enc = models.BinaryField(null=True, editable=False)
    # Vendor field -> profile field ("first_name") or trait ("traits.revenue_total").
    field_mapping = models.JSONField(default=dict, blank=True)
    purpose = models.ForeignKey(Purpose, on_delete=models.PROTECT, related_name="+")
    # Empty = the vendor's documented limits (connectors.registry).
    rate_per_s = models.FloatField(null=True, blank=True)
    max_concurrency = models.PositiveSmallIntegerField(null=True, blank=True)
    batch_size = models.PositiveIntegerField(null=True, blank=True)
    timeout_s = models.FloatField(default=30)
    max_retries = models.PositiveSmallIntegerField(default=6)
    # A run whose share of failed members is above this is flagged.
    failure_threshold = models.FloatField(default=0.05)
    # Opt-out webhooks from the vendor must carry this token (random, shown in admin).
    inbound_token = models.CharField(max_length=64, blank=True, editable=False)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
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

    segment = models.ForeignKey(Segment, on_delete=models.PROTECT, related_name="syncs")
    destination = models.ForeignKey(Destination, on_delete=models.PROTECT, related_name="syncs")
    mode = models.CharField(max_length=24, choices=Mode.choices, default=Mode.UPSERT_AND_REMOVE)
    # Mailchimp: {"list_id": "...", "tag": "cdp:vip"}; HubSpot: {"list_id": "..."} or
    # {"list_name": "..."}; Salesforce: {"campaign_id": "..."}; webhook: {"url": "..."}.
    container = models.JSONField(default=dict)
    # Cron (minute hour day month weekday), Europe/Paris; "" = on changes and nightly only.
    schedule = models.CharField(max_length=100, blank=True, default="")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_run_at = models.DateTimeField(null=True, blank=True)

    class Meta:
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

    sync = models.ForeignKey(AudienceSync, on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    started_at = models.DateTimeField()
    heartbeat_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    added = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    removed = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    skipped_consent = models.PositiveIntegerField(default=0)
    # Members the destination cannot take (no email for an email tool).
    skipped_unreachable = models.PositiveIntegerField(default=0)
    # Differences the nightly read-back found and repaired; opt-outs brought back.
    repaired = models.PositiveIntegerField(default=0)
    opt_outs = models.PositiveIntegerField(default=0)
    api_calls = models.PositiveIntegerField(default=0)
    write_calls = models.PositiveIntegerField(default=0)
    retries = models.PositiveIntegerField(default=0)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    failure_rate = models.FloatField(null=True, blank=True)
    flagged = models.BooleanField(default=False)
    error = models.TextField(blank=True)

    class Meta:
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
    )
    destination = models.ForeignKey(
        Destination, on_delete=models.PROTECT, related_name="erasures"
    )
    profile_id = models.UUIDField()
    # Where the person is at the vendor: Mailchimp list id + subscriber hash, etc.
    container = models.JSONField(default=dict)
    remote_id = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    # What the vendor answered (status code and title; never personal data).
    vendor_response = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "erasure deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["destination", "remote_id", "profile_id", "request"],
                name="erasure_delivery_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.destination_id}:{self.remote_id[:8]} {self.status}"
