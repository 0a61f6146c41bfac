"""DPO export of the audit log as CSV or a JSON array, streamed with flat memory.

The command, the API and the admin share it. An export is audited before its first row
leaves, so even an interrupted one is on record. Rows come in chain (id) order with their
hashes, so a DPO can re-check the chain outside the application.
"""

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast

from cdp.audit import audit_record
from cdp.models import AuditEvent
from cdp.selectors import audit_events_filtered
from cdp.services.exporting import FORMATS, BadBound, StreamedExport, parse_bound, spreadsheet_safe

COLUMNS = (
    "id", "at", "actor", "action", "object_type", "object_id", "profile_id", "details",
    "reason", "request_id", "ip_prefix", "prev_hash", "row_hash",
)
__all__ = ["FORMATS", "BadBound", "AuditFilter", "audit_export", "parse_bound"]


@dataclass(frozen=True)
class AuditFilter:
    since: datetime | None = None
    until: datetime | None = None
    subject: uuid.UUID | None = None
    action: str = ""

    def events(self) -> QuerySet[AuditEvent]:
        return audit_events_filtered(
            since=self.since, until=self.until, subject=self.subject, action=self.action
        )

    def describe(self) -> dict[str, str]:
        return {
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
            "subject": str(self.subject) if self.subject else "",
            "action": self.action,
        }


# Free-text columns a caller may influence; the others are ids, times, hashes, JSON.
_TEXT = frozenset(("actor", "action", "object_type", "object_id", "reason", "request_id"))


def _fields(row: tuple) -> dict[str, Any]:
    """One row as plain values; details stays the JSON text the database holds."""
    item = dict(zip(COLUMNS, row, strict=True))
    item["at"] = item["at"].astimezone(UTC).isoformat()
    item["profile_id"] = str(item["profile_id"]) if item["profile_id"] else ""
    return item


def _csv_cells(row: tuple) -> list[Any]:
    item = _fields(row)
    return [spreadsheet_safe(item[name]) if name in _TEXT else item[name] for name in COLUMNS]


def _json_text(row: tuple) -> str:
    # details is already JSON text from the database: spliced in, not decoded and re-encoded.
    item = _fields(row)
    details = item.pop("details")
    return json.dumps(item, ensure_ascii=False)[:-1] + ', "details": ' + details + "}"


class AuditExport(StreamedExport):
    """Rows in chain (id) order with their hashes; details travels as database text."""

    def __init__(self, events: QuerySet[AuditEvent], fmt: str, chunk_size: int) -> None:
        columns = [*COLUMNS]
        columns[COLUMNS.index("details")] = "details_text"
        events = events.annotate(details_text=Cast("details", TextField()))
        super().__init__(
            fmt=fmt, columns=COLUMNS, csv_cells=_csv_cells, json_text=_json_text,
            rows=lambda: events.values_list(*columns).iterator(chunk_size=chunk_size),
        )


def audit_export(
    *,
    fmt: str,
    actor: str,
    via: str,
    filters: AuditFilter | None = None,
    events: QuerySet[AuditEvent] | None = None,
    chunk_size: int = 2000,
    described: dict[str, Any] | None = None,
) -> AuditExport:
    """Record the export (who, which rows, how), then hand back the rows to stream.

    Rows are those of `filters`, or an already chosen `events` (the admin's selection,
    or its filtered list: then `described` says which filters, for the audit row).
    """
    filters = filters or AuditFilter()
    if events is None:
        events, described = filters.events(), filters.describe()
    else:
        if described is None:
            described = {"selected": events.count()}
        events = events.order_by("id")
    export = AuditExport(events, fmt, chunk_size)
    audit_record(
        actor=actor, action="audit.export", object_type="audit_log",
        profile_id=filters.subject, details={"format": fmt, "via": via, **described},
    )
    return export
