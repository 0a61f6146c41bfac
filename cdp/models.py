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

    name = models.SlugField(max_length=64, unique=True, verbose_name=_("name"))
    kind = models.CharField(
        max_length=16, choices=Kind.choices, default=Kind.OTHER, verbose_name=_("kind"),
    )
    description = models.TextField(blank=True, verbose_name=_("description"))
    # Higher wins when the golden record chooses between sources.
    priority = models.PositiveSmallIntegerField(default=100, verbose_name=_("priority"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("source")
        verbose_name_plural = _("sources")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Profile(models.Model):
    """A unified customer, known only by a random UUID."""

    id = models.UUIDField(
        primary_key=True, default=uuid.uuid4, editable=False, verbose_name=_("profile id"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))
    # GDPR Art. 18: data kept, but the profile is used for nothing (no segment, no sync).
    restricted_at = models.DateTimeField(null=True, blank=True, verbose_name=_("restricted since"))
    # Why processing is restricted (a request, or a match with an erased subject).
    restriction_reason = models.CharField(
        max_length=300, blank=True, db_default="", verbose_name=_("restriction reason"),
    )

    class Meta:
        verbose_name = _("profile")
        verbose_name_plural = _("profiles")
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
        verbose_name = _("suppressed identity")
        verbose_name_plural = _("suppressed identities")
        constraints = [
            models.UniqueConstraint(fields=["bidx", "kind"], name="suppressed_identity_once")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.bidx[:12]}…"


class SourceRecord(models.Model):
    """One customer record as a source system knows it, upserted by (source, external_id)."""

    # Indexed by the (source, external_id) unique constraint; no separate index.
    source = models.ForeignKey(
        Source, on_delete=models.PROTECT, related_name="records", db_index=False,
        verbose_name=_("source")
    )
    external_id = models.CharField(max_length=255, verbose_name=_("external id"))
    profile = models.ForeignKey(
        Profile, on_delete=models.PROTECT, related_name="records", verbose_name=_("profile"),
    )

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

    postcode = models.CharField(max_length=20, null=True, blank=True, verbose_name=_("postcode"))
    city = models.CharField(max_length=120, null=True, blank=True, verbose_name=_("city"))
    region = models.CharField(max_length=120, null=True, blank=True, verbose_name=_("region"))
    country = models.CharField(max_length=64, null=True, blank=True, verbose_name=_("country"))
    company = models.CharField(max_length=200, null=True, blank=True, verbose_name=_("company"))

    attributes = models.JSONField(default=dict, blank=True, verbose_name=_("attributes"))
    # Created from an event naming someone no record described yet.
    implicit = models.BooleanField(default=False, verbose_name=_("implicit (from an event)"))
    received_at = models.DateTimeField(verbose_name=_("received at"))
    updated_at = models.DateTimeField(verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("source record")
        verbose_name_plural = _("source records")
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
        Source, on_delete=models.PROTECT, related_name="events", db_index=False,
        verbose_name=_("source")
    )
    event_id = models.CharField(max_length=200, verbose_name=_("event id"))
    profile = models.ForeignKey(
        Profile, on_delete=models.CASCADE, related_name="events", db_index=False,
        verbose_name=_("profile")
    )
    record = models.ForeignKey(
        SourceRecord, on_delete=models.SET_NULL, null=True, related_name="events",
        verbose_name=_("source record")
    )
    type = models.CharField(max_length=64, verbose_name=_("type"))
    occurred_at = models.DateTimeField(verbose_name=_("occurred at"))
    value = models.DecimalField(
        max_digits=14, decimal_places=4, null=True, blank=True, verbose_name=_("value"),
    )
    properties = models.JSONField(default=dict, blank=True, verbose_name=_("properties"))
    received_at = models.DateTimeField(verbose_name=_("received at"))

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
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

    slug = models.SlugField(max_length=64, primary_key=True, verbose_name=_("identifier"))
    name = models.CharField(max_length=120, verbose_name=_("name"))
    description = models.TextField(blank=True, verbose_name=_("description"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("purpose")
        verbose_name_plural = _("purposes")
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

    profile = models.ForeignKey(
        Profile, on_delete=models.CASCADE, related_name="consents", verbose_name=_("profile"),
    )
    record = models.ForeignKey(
        SourceRecord, on_delete=models.SET_NULL, null=True, blank=True,
        verbose_name=_("source record"),
    )
    source = models.ForeignKey(
        Source, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("source"),
    )
    purpose = models.SlugField(max_length=64, verbose_name=_("purpose"))
    status = models.CharField(max_length=16, choices=Status.choices, verbose_name=_("status"))
    lawful_basis = models.CharField(
        max_length=32, default="consent", verbose_name=_("lawful basis"),
    )
    channel = models.CharField(max_length=32, blank=True, verbose_name=_("channel"))
    notice_version = models.CharField(max_length=32, blank=True, verbose_name=_("notice version"))
    # SHA-256 of the notice text the person saw.
    notice_hash = models.CharField(max_length=64, blank=True, verbose_name=_("notice hash"))
    # Form or campaign id; IP address and user agent only as keyed hashes.
    evidence = models.JSONField(default=dict, blank=True, verbose_name=_("evidence"))
    captured_at = models.DateTimeField(verbose_name=_("captured at"))
    recorded_at = models.DateTimeField(auto_now_add=True, verbose_name=_("recorded at"))
    expires_at = models.DateTimeField(null=True, blank=True, verbose_name=_("expires at"))
    recorded_by = models.CharField(max_length=150, blank=True, verbose_name=_("recorded by"))

    class Meta:
        verbose_name = _("consent entry")
        verbose_name_plural = _("consent entries")
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

    name = models.CharField(max_length=100, unique=True, verbose_name=_("name"))
    prefix = models.CharField(max_length=16, unique=True, editable=False, verbose_name=_("prefix"))
    key_hash = models.CharField(max_length=64, editable=False, verbose_name=_("key hash"))
    scopes = models.JSONField(default=list, verbose_name=_("scopes"))
    # Empty means the default rate (settings REST_FRAMEWORK throttle "api_key").
    rate = models.CharField(
        max_length=20, blank=True, help_text=_("e.g. 1000/min"), verbose_name=_("rate limit"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        verbose_name=_("created by")
    )
    last_used_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last used at"))
    revoked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("revoked at"))

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes or self.Scope.ADMIN in self.scopes


class AuditEvent(models.Model):
    """Who did what to whose data, when and why. Append-only (a trigger refuses UPDATE and
    DELETE except for the chained retention purge) and hash-chained: row_hash is
    SHA-256(prev_hash + canonical content), so any edited or removed row is detectable."""

    at = models.DateTimeField(auto_now_add=True, db_index=True, verbose_name=_("date"))
    actor = models.CharField(max_length=150, verbose_name=_("actor"))
    action = models.CharField(max_length=64, verbose_name=_("action"))
    object_type = models.CharField(max_length=64, blank=True, verbose_name=_("object type"))
    object_id = models.CharField(max_length=64, blank=True, verbose_name=_("object ID"))
    # The subject, by pseudonymous profile id only.
    profile_id = models.UUIDField(
        null=True, blank=True, db_index=True, verbose_name=_("profile id"),
    )
    details = models.JSONField(default=dict, blank=True, verbose_name=_("details"))
    reason = models.CharField(max_length=300, blank=True, verbose_name=_("reason"))
    request_id = models.CharField(max_length=64, blank=True, verbose_name=_("request id"))
    # Truncated client IP (IPv4 /24, IPv6 /48), never the full address.
    ip_prefix = models.CharField(max_length=50, blank=True, verbose_name=_("IP prefix"))
    prev_hash = models.CharField(max_length=64, blank=True, verbose_name=_("previous hash"))
    row_hash = models.CharField(max_length=64, blank=True, verbose_name=_("row hash"))

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit log")
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

    kind = models.CharField(max_length=16, choices=Kind.choices, verbose_name=_("kind"))
    # How the subject was designated ("profile", "email", "phone"), never the value.
    identified_by = models.CharField(max_length=16, verbose_name=_("identified by"))
    # Pseudonymous ids of the profiles found (kept even if a profile is later erased).
    profile_ids = models.JSONField(default=list, verbose_name=_("profile ids"))
    received_at = models.DateTimeField(verbose_name=_("received at"))
    answered_at = models.DateTimeField(null=True, blank=True, verbose_name=_("answered at"))
    handled_by = models.CharField(max_length=150, verbose_name=_("handled by"))
    reason = models.CharField(max_length=300, blank=True, verbose_name=_("reason"))
    summary = models.JSONField(default=dict, blank=True, verbose_name=_("summary"))

    class Meta:
        verbose_name = _("subject request")
        verbose_name_plural = _("subject requests")
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.received_at:%Y-%m-%d}"
