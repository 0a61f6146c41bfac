"""Core domain models: sources, source records, profiles, events, consent, API keys, audit.

Personal data lives only in SourceRecord's "*_enc" columns (ciphertext under the
record's own DataKey) and is looked up through "*_bidx" keyed blind indexes; see
cdp.privacy.crypto and cdp.fields.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Source(models.Model):
    class Kind(models.TextChoices):
        CRM = "crm", "CRM"
        SHOP = "shop", _("Shop")
        WEB = "web", _("Web")
        NEWSLETTER = "newsletter", _("Newsletter")
        OTHER = "other", _("Other")

    name = models.SlugField(max_length=64, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.OTHER)
    description = models.TextField(blank=True)
    # Higher wins when the golden record chooses between sources.
    priority = models.PositiveSmallIntegerField(default=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Profile(models.Model):
    """A unified customer, known only by a random UUID."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # GDPR Art. 18: data kept, but the profile is used for nothing (no segment, no sync).
    restricted_at = models.DateTimeField(null=True, blank=True)
    # Why processing is restricted (a request, or a match with an erased subject).
    restriction_reason = models.CharField(max_length=300, blank=True, db_default="")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return str(self.id)


class DataKey(models.Model):
    """One source record's data key, wrapped by the master key (envelope encryption).

    Kept apart from the records so that erasure can destroy it: the record's ciphertext,
    wherever a copy survives, then decrypts to nothing (crypto-shredding).
    """

    id = models.UUIDField(primary_key=True, editable=False)
    wrapped = models.BinaryField()
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return str(self.id)


class SuppressedIdentity(models.Model):
    """An identifier of an erased subject, as a blind index only (never the value).

    A record re-imported later with the same email, phone or customer id is flagged (its
    profile restricted for the DPO to review) instead of silently resurrecting the person.
    """

    kind = models.CharField(max_length=16)
    bidx = models.CharField(max_length=64)
    erased_at = models.DateTimeField()
    request = models.ForeignKey(
        "SubjectRequest", on_delete=models.SET_NULL, null=True, blank=True
    )

    class Meta:
        verbose_name_plural = "suppressed identities"
        constraints = [
            models.UniqueConstraint(fields=["bidx", "kind"], name="suppressed_identity_once")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.bidx[:12]}…"


class SourceRecord(models.Model):
    """One customer record as a source system knows it, upserted by (source, external_id)."""

    # Indexed by the (source, external_id) unique constraint; no separate index.
    source = models.ForeignKey(
        Source, on_delete=models.PROTECT, related_name="records", db_index=False
    )
    external_id = models.CharField(max_length=255)
    profile = models.ForeignKey(Profile, on_delete=models.PROTECT, related_name="records")

    first_name_enc = models.BinaryField(null=True)
    last_name_enc = models.BinaryField(null=True)
    email_enc = models.BinaryField(null=True)
    phone_enc = models.BinaryField(null=True)
    birth_date_enc = models.BinaryField(null=True)
    address_line1_enc = models.BinaryField(null=True)
    address_line2_enc = models.BinaryField(null=True)
    customer_id_enc = models.BinaryField(null=True)
    # Encrypted JSON of the matching forms of names and address lines.
    match_enc = models.BinaryField(null=True)
    # The DataKey the *_enc columns are under. No foreign key constraint or index: keys
    # are written and destroyed only by this code, and never looked up the other way.
    data_key_id = models.UUIDField(null=True, editable=False)

    email_bidx = models.CharField(max_length=64, null=True)
    phone_bidx = models.CharField(max_length=64, null=True)
    customer_id_bidx = models.CharField(max_length=64, null=True)

    postcode = models.CharField(max_length=20, null=True, blank=True)
    city = models.CharField(max_length=120, null=True, blank=True)
    region = models.CharField(max_length=120, null=True, blank=True)
    country = models.CharField(max_length=64, null=True, blank=True)
    company = models.CharField(max_length=200, null=True, blank=True)

    attributes = models.JSONField(default=dict, blank=True)
    # Created from an event naming someone no record described yet.
    implicit = models.BooleanField(default=False)
    received_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="sourcerecord_source_external_id"
            )
        ]
        indexes = [
            models.Index(fields=["email_bidx"], name="sourcerecord_email_bidx"),
            models.Index(fields=["phone_bidx"], name="sourcerecord_phone_bidx"),
            models.Index(fields=["customer_id_bidx"], name="sourcerecord_customer_id_bidx"),
        ]

    def __str__(self) -> str:
        return f"{self.source_id}:{self.external_id}"


class Event(models.Model):
    """Something a profile did, idempotent by (source, event_id)."""

    # source and profile are covered by the composite unique constraint and index below.
    source = models.ForeignKey(
        Source, on_delete=models.PROTECT, related_name="events", db_index=False
    )
    event_id = models.CharField(max_length=200)
    profile = models.ForeignKey(
        Profile, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    record = models.ForeignKey(
        SourceRecord, on_delete=models.SET_NULL, null=True, related_name="events"
    )
    type = models.CharField(max_length=64)
    occurred_at = models.DateTimeField()
    value = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    properties = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "event_id"], name="event_source_event_id")
        ]
        indexes = [
            models.Index(fields=["profile", "type", "occurred_at"], name="event_profile_type_at"),
            # Covering: segment rules group events of a type in a window by profile
            # (and sum/avg their value) from the index alone.
            models.Index(
                fields=["type", "occurred_at"], include=["profile", "value"],
                name="event_type_at_cover",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class Purpose(models.Model):
    """A processing purpose consent is asked for (data, not code)."""

    slug = models.SlugField(max_length=64, primary_key=True)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class ConsentEntry(models.Model):
    """One consent fact, as GDPR Art. 7(1) asks to prove it. Append-only: the database
    refuses UPDATE and DELETE (trigger), except on the erasure path."""

    class Status(models.TextChoices):
        GRANTED = "granted", _("Granted")
        DENIED = "denied", _("Denied")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="consents")
    record = models.ForeignKey(SourceRecord, on_delete=models.SET_NULL, null=True, blank=True)
    source = models.ForeignKey(Source, on_delete=models.PROTECT, null=True, blank=True)
    purpose = models.SlugField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices)
    lawful_basis = models.CharField(max_length=32, default="consent")
    channel = models.CharField(max_length=32, blank=True)
    notice_version = models.CharField(max_length=32, blank=True)
    # SHA-256 of the notice text the person saw.
    notice_hash = models.CharField(max_length=64, blank=True)
    # Form or campaign id; IP address and user agent only as keyed hashes.
    evidence = models.JSONField(default=dict, blank=True)
    captured_at = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    recorded_by = models.CharField(max_length=150, blank=True)

    class Meta:
        verbose_name_plural = "consent entries"
        constraints = [
            # A resent entry is not recorded twice. Its index (profile, purpose,
            # captured_at first) also serves "the latest entry per purpose". The record
            # is part of the key: when two records of one person (each with its entry
            # from the same import) merge, both entries stay, each proving its record.
            models.UniqueConstraint(
                fields=["profile", "purpose", "captured_at", "status", "source", "record"],
                name="consent_entry_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.purpose}={self.status}"


class ApiKey(models.Model):
    """An API credential; only a SHA-256 of the key is stored (the key is random)."""

    class Scope(models.TextChoices):
        """Machine scopes (ingest, read) and the roles of cdp.roles (marketer, steward,
        dpo, admin); admin holds every scope."""

        INGEST = "ingest", _("Ingest records and events")
        READ = "read", _("Read profiles (personal data in clear)")
        MARKETER = "marketer", _("Marketer: segments; profiles masked")
        STEWARD = "steward", _("Data steward: identity; profiles masked")
        DPO = "dpo", _("Data protection officer")
        ADMIN = "admin", _("Administration")

    name = models.CharField(max_length=100, unique=True)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(default=list)
    # Empty means the default rate (settings REST_FRAMEWORK throttle "api_key").
    rate = models.CharField(max_length=20, blank=True, help_text=_("e.g. 1000/min"))
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return self.name

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes or self.Scope.ADMIN in self.scopes


class AuditEvent(models.Model):
    """Who did what to whose data, when and why. Append-only (a trigger refuses UPDATE and
    DELETE except for the chained retention purge) and hash-chained: row_hash is
    SHA-256(prev_hash + canonical content), so any edited or removed row is detectable."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.CharField(max_length=150)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    # The subject, by pseudonymous profile id only.
    profile_id = models.UUIDField(null=True, blank=True, db_index=True)
    details = models.JSONField(default=dict, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    # Truncated client IP (IPv4 /24, IPv6 /48), never the full address.
    ip_prefix = models.CharField(max_length=50, blank=True)
    prev_hash = models.CharField(max_length=64, blank=True)
    row_hash = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-at"]
        # The DPO pages ask "the latest rows of this action" (last chain check, last
        # retention runs, the action filter) without scanning the whole log.
        indexes = [models.Index(fields=["action", "-id"], name="audit_action_latest")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor} {self.action}"


class SubjectRequest(models.Model):
    """The DPO's register of data-subject requests (GDPR Art. 15, 17, 18, 20)."""

    class Kind(models.TextChoices):
        ACCESS = "access", _("Access / portability")
        ERASURE = "erasure", _("Erasure")
        RESTRICTION = "restriction", _("Restriction")

    kind = models.CharField(max_length=16, choices=Kind.choices)
    # How the subject was designated ("profile", "email", "phone"), never the value.
    identified_by = models.CharField(max_length=16)
    # Pseudonymous ids of the profiles found (kept even if a profile is later erased).
    profile_ids = models.JSONField(default=list)
    received_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.CharField(max_length=150)
    reason = models.CharField(max_length=300, blank=True)
    summary = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.received_at:%Y-%m-%d}"
