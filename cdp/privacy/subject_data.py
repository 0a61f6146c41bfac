"""Everything held about a data subject, section by section (GDPR Art. 15 and 20).

The core domain provides records, events, consents and audit entries; other apps add
their sections (segment memberships, model scores, destinations) by registering a
contributor, so cdp never imports them.
"""

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from cdp.models import AuditEvent, ConsentEntry, Event, SourceRecord
from cdp.services.profiles import record_plain

Section = dict[str, list[dict[str, Any]]]
Contributor = Callable[[Sequence[uuid.UUID]], Section]
_CONTRIBUTORS: list[Contributor] = []


def register_subject_data(contributor: Contributor) -> None:
    """Called from an app's ready(): its part of a subject's data."""
    if contributor not in _CONTRIBUTORS:
        _CONTRIBUTORS.append(contributor)


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _rows(queryset: Any, fields: Sequence[str]) -> list[dict[str, Any]]:
    return [{k: _iso(v) for k, v in row.items()} for row in queryset.values(*fields)]


def core_sections(profile_ids: Sequence[uuid.UUID]) -> Section:
    """Source records in clear, events, consents with history, audit entries."""
    records = SourceRecord.objects.filter(profile_id__in=profile_ids).select_related("source")
    return {
        "records": [
            {"profile_id": str(r.profile_id), "source": r.source.name,
             "external_id": r.external_id, **{k: _iso(v) for k, v in record_plain(r).items()},
             "attributes": r.attributes, "received_at": _iso(r.received_at),
             "updated_at": _iso(r.updated_at)}
            for r in records.order_by("id")
        ],
        "events": _rows(
            Event.objects.filter(profile_id__in=profile_ids).order_by("occurred_at"),
            ["profile_id", "source__name", "event_id", "type", "occurred_at", "value",
             "properties"],
        ),
        "consents": _rows(
            ConsentEntry.objects.filter(profile_id__in=profile_ids).order_by("captured_at", "id"),
            ["profile_id", "purpose", "status", "lawful_basis", "channel", "source__name",
             "notice_version", "captured_at", "recorded_at", "expires_at"],
        ),
        "audit": _rows(
            AuditEvent.objects.filter(profile_id__in=profile_ids).order_by("id"),
            ["at", "actor", "action", "object_type", "object_id", "reason"],
        ),
    }


def subject_sections(profile_ids: Sequence[uuid.UUID]) -> Section:
    sections = core_sections(profile_ids)
    for contributor in _CONTRIBUTORS:
        sections.update(contributor(profile_ids))
    return sections
