"""Event ingestion: parse, resolve each event's profile by an identifier, insert once.

An event is idempotent by (source, event id): a resent event is counted as a duplicate
and never changes the stored one. An event naming someone no record describes yet
creates an implicit record (holding only that identifier) and so a profile; the real
record joins it later through the same blind index.
"""

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from cdp.models import Event, Source
from cdp.normalize import NormalizationError
from cdp.services.subjects import identifier_parse, subjects_resolve, text_field
from cdp.signals import events_ingested

_TYPE_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_.:-")
_MAX_VALUE = Decimal("1e10")
_FUTURE_SLACK = dt.timedelta(days=1)


@dataclass
class ParsedEvent:
    event_id: str
    type: str
    occurred_at: dt.datetime
    value: Decimal | None
    properties: dict[str, Any]
    identifier: tuple[str, str]


@dataclass
class EventParseOutcome:
    event: ParsedEvent | None
    issues: list[tuple[str | None, str]] = field(default_factory=list)


@dataclass
class EventIngestResult:
    created: int = 0
    duplicates: int = 0
    new_profiles: int = 0

    def add(self, other: "EventIngestResult") -> None:
        self.created += other.created
        self.duplicates += other.duplicates
        self.new_profiles += other.new_profiles


def _occurred_at(raw: Any, now: dt.datetime) -> dt.datetime:
    if not isinstance(raw, str):
        raise NormalizationError("required, as an ISO 8601 date-time")
    try:
        value = dt.datetime.fromisoformat(raw.strip())
    except ValueError as exc:
        raise NormalizationError("not an ISO 8601 date-time") from exc
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    if value > now + _FUTURE_SLACK:
        raise NormalizationError("in the future")
    return value


def _value(raw: Any) -> Decimal | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise NormalizationError("must be a number")
    try:
        value = Decimal(str(raw).strip().replace(",", "."))
    except InvalidOperation as exc:
        raise NormalizationError("must be a number") from exc
    if not value.is_finite() or abs(value) >= _MAX_VALUE:
        raise NormalizationError("out of range")
    return value.quantize(Decimal("0.0001"))


def event_parse(
    raw: Mapping[str, Any], *, strict: bool, region: str = "FR", now: dt.datetime | None = None
) -> EventParseOutcome:
    """Validate one event; lenient mode stores a bad value or properties as missing."""
    now = now or timezone.now()
    issues: list[tuple[str | None, str]] = []
    parsed: dict[str, Any] = {}
    steps = (
        ("id", lambda: text_field(raw, "id", 200) or _required()),
        ("type", lambda: _event_type(raw.get("type"))),
        ("occurred_at", lambda: _occurred_at(raw.get("occurred_at"), now)),
        ("identifier", lambda: identifier_parse(raw, region)),
    )
    for name, step in steps:
        try:
            parsed[name] = step()
        except NormalizationError as exc:
            issues.append((name, str(exc)))
    try:
        parsed["value"] = _value(raw.get("value"))
    except NormalizationError as exc:
        issues.append(("value", str(exc)))
        parsed["value"] = None
    properties = raw.get("properties") or {}
    if not isinstance(properties, dict):
        issues.append(("properties", "must be an object"))
        properties = {}
    hard = [i for i in issues if i[0] not in ("value", "properties")]
    if hard or (strict and issues):
        return EventParseOutcome(None, issues)
    event = ParsedEvent(
        event_id=parsed["id"],
        type=parsed["type"],
        occurred_at=parsed["occurred_at"],
        value=parsed["value"],
        properties=properties,
        identifier=parsed["identifier"],
    )
    return EventParseOutcome(event, issues)


def _required() -> str:
    raise NormalizationError("required")


def _event_type(raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise NormalizationError("required")
    text = raw.strip().lower()
    if len(text) > 64 or not set(text) <= _TYPE_CHARS:
        raise NormalizationError("use at most 64 letters, digits and _ . : -")
    return text


def events_ingest(
    *, source: Source, events: Sequence[ParsedEvent], now: dt.datetime | None = None
) -> EventIngestResult:
    """Store new events once; returns created / duplicate counts."""
    now = now or timezone.now()
    unique: dict[str, ParsedEvent] = {}
    for event in events:
        unique.setdefault(event.event_id, event)
    known = set(
        Event.objects.filter(source=source, event_id__in=list(unique)).values_list(
            "event_id", flat=True
        )
    )
    fresh = [e for e in unique.values() if e.event_id not in known]
    result = EventIngestResult(duplicates=len(events) - len(fresh))
    if not fresh:
        return result
    with transaction.atomic():
        resolution = subjects_resolve(
            source=source, identifiers={e.identifier for e in fresh}, now=now
        )
        result.new_profiles = resolution.new_profiles
        owners = resolution.owners
        rows = [
            Event(
                source=source,
                event_id=e.event_id,
                record_id=owners[e.identifier][0],
                profile_id=owners[e.identifier][1],
                type=e.type,
                occurred_at=e.occurred_at,
                value=e.value,
                properties=e.properties,
                received_at=now,
            )
            for e in fresh
        ]
        Event.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
        profile_ids = {row.profile_id for row in rows}
        event_types = {row.type for row in rows}
        transaction.on_commit(
            lambda: events_ingested.send(
                sender=Event, source=source, profile_ids=profile_ids, event_types=event_types
            )
        )
    result.created = len(rows)
    return result
