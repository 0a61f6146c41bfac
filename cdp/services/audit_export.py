"""DPO export of the audit log as CSV or a JSON array, streamed with flat memory.

The command, the API and the admin share it. An export is audited before its first row
leaves, so even an interrupted one is on record. Rows come in chain (id) order with their
hashes, so a DPO can re-check the chain outside the application.
"""

import csv
import io
import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from cdp.audit import audit_record
from cdp.models import AuditEvent
from cdp.selectors import audit_events_filtered

FORMATS = ("csv", "json")
COLUMNS = (
    "id", "at", "actor", "action", "object_type", "object_id", "profile_id", "details",
    "reason", "request_id", "ip_prefix", "prev_hash", "row_hash",
)
_FLUSH_ROWS = 1000  # rows per yielded text chunk
# Spreadsheets run cells starting with these as formulas (CSV injection).
_FORMULA_START = frozenset("=+-@\t\r")


class BadBound(ValueError):
    """A --since/--until (or query parameter) that is neither a date nor a date-time."""


def parse_bound(text: str, *, end: bool = False) -> datetime:
    """YYYY-MM-DD is a whole local day (as an end: up to the next midnight) or ISO 8601
    (naive times are in TIME_ZONE)."""
    text = text.strip()
    try:
        day = parse_date(text)
        moment = None if day else parse_datetime(text)
    except ValueError:
        day = moment = None
    if day is not None:
        moment = datetime.combine(day + timedelta(days=1) if end else day, time.min)
    if moment is None:
        raise BadBound(f"expected YYYY-MM-DD or an ISO 8601 date-time, got {text[:40]!r}")
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


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


def _cell(name: str, value: Any) -> Any:
    if name in _TEXT and value[:1] in _FORMULA_START:
        return "'" + value
    return value


class AuditExport:
    """The export as text chunks; iterate once. `rows` counts the rows written so far."""

    def __init__(self, events: QuerySet[AuditEvent], fmt: str, chunk_size: int) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}")
        self.events, self.fmt, self.chunk_size = events, fmt, chunk_size
        self.rows = 0

    @property
    def content_type(self) -> str:
        return "text/csv; charset=utf-8" if self.fmt == "csv" else "application/json"

    def __iter__(self) -> Iterator[str]:
        # Inside a transaction PostgreSQL's server-side cursor is a plain one, which
        # streams; outside, Django declares it WITH HOLD and the server materializes it.
        # details comes as text: no JSON decoding and re-encoding per row.
        columns = [*COLUMNS]
        columns[COLUMNS.index("details")] = "details_text"
        events = self.events.annotate(details_text=Cast("details", TextField()))
        with transaction.atomic():
            rows = events.values_list(*columns).iterator(chunk_size=self.chunk_size)
            try:
                yield from self._csv(rows) if self.fmt == "csv" else self._json(rows)
            finally:
                rows.close()  # before the transaction ends (a consumer may stop early)

    def _csv(self, rows: Iterable[tuple]) -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(COLUMNS)
        for row in rows:
            item = _fields(row)
            writer.writerow([_cell(name, item[name]) for name in COLUMNS])
            self.rows += 1
            if self.rows % _FLUSH_ROWS == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    def _json(self, rows: Iterable[tuple]) -> Iterator[str]:
        parts = ["["]
        for row in rows:
            item = _fields(row)
            details = item.pop("details")
            text = json.dumps(item, ensure_ascii=False)
            parts.append(("\n" if self.rows == 0 else ",\n") + text[:-1]
                         + ', "details": ' + details + "}")
            self.rows += 1
            if self.rows % _FLUSH_ROWS == 0:
                yield "".join(parts)
                parts = []
        parts.append("\n]\n")
        yield "".join(parts)


def audit_export(
    *,
    fmt: str,
    actor: str,
    via: str,
    filters: AuditFilter | None = None,
    events: QuerySet[AuditEvent] | None = None,
    chunk_size: int = 2000,
) -> AuditExport:
    """Record the export (who, which rows, how), then hand back the rows to stream.

    Rows are those of `filters`, or an already chosen `events` (the admin's selection).
    """
    filters = filters or AuditFilter()
    if events is None:
        events, described = filters.events(), filters.describe()
    else:
        events, described = events.order_by("id"), {"selected": events.count()}
    export = AuditExport(events, fmt, chunk_size)
    audit_record(
        actor=actor, action="audit.export", object_type="audit_log",
        profile_id=filters.subject, details={"format": fmt, "via": via, **described},
    )
    return export
