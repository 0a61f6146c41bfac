"""Read-side queries of the core domain."""

import uuid
from datetime import datetime

from django.db.models import Count, Max, Prefetch, QuerySet

from cdp.fields import bidx_column
from cdp.models import AuditEvent, Profile, Source, SourceRecord
from cdp.normalize import clean_text, normalize_email, normalize_phone
from cdp.privacy.crypto import blind_index


def profile_get(profile_id: uuid.UUID) -> Profile:
    """A profile with its records (and their sources) and event summary; raises DoesNotExist."""
    records = SourceRecord.objects.select_related("source").order_by("id")
    return (
        Profile.objects.annotate(
            event_count=Count("events"), last_event_at=Max("events__occurred_at")
        )
        .prefetch_related(Prefetch("records", queryset=records))
        .get(pk=profile_id)
    )


def source_get(name: str) -> Source | None:
    return Source.objects.filter(name=name).first()


def audit_events_filtered(
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    subject: uuid.UUID | None = None,
    action: str = "",
) -> QuerySet[AuditEvent]:
    """Audit rows in chain (id) order: at in [since, until), about subject, of action."""
    events = AuditEvent.objects.order_by("id")
    if since is not None:
        events = events.filter(at__gte=since)
    if until is not None:
        events = events.filter(at__lt=until)
    if subject is not None:
        events = events.filter(profile_id=subject)
    if action:
        events = events.filter(action=action)
    return events


def profiles_by_identifier(kind: str, value: str, *, region: str = "FR") -> QuerySet[Profile]:
    """Profiles with a record holding this email, phone or customer id (via blind index).

    Several profiles can share one (until identity resolution merges them); raises
    NormalizationError for a value that is not an email / phone / id at all.
    """
    normalizers = {
        "email": normalize_email,
        "phone": lambda text: normalize_phone(text, region),
        "customer_id": clean_text,
    }
    column = bidx_column(kind)
    index = blind_index(kind, normalizers[kind](value))
    owners = SourceRecord.objects.filter(**{column: index}).values("profile_id")
    return Profile.objects.filter(pk__in=owners).order_by("created_at")
