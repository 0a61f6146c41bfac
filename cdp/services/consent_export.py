"""Export consent proofs (DPO): CSV or a JSON array, streamed, the export itself audited.

The command, the API and the admin share it, with the audit export's date semantics
(cdp.services.audit_export.parse_bound: a date is a whole local day). Rows come from a
server-side cursor and leave as text chunks, so a million entries export with flat memory.
"""

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from cdp.audit import audit_record
from cdp.models import ConsentEntry
from cdp.services.exporting import FORMATS, BadBound, StreamedExport, parse_bound, spreadsheet_safe

COLUMNS: tuple[str, ...] = (
    "id", "profile_id", "source", "record", "purpose", "status", "lawful_basis", "channel",
    "notice_version", "notice_hash", "evidence", "captured_at", "recorded_at", "expires_at",
    "recorded_by",
)
_LOOKUPS = {"source": "source__name", "record": "record__external_id"}
__all__ = ["FORMATS", "ConsentFilter", "ExportInvalid", "consent_filter", "consents_export"]


class ExportInvalid(ValueError):
    """The filters cannot be used (bad date or subject, empty range)."""


@dataclass(frozen=True)
class ConsentFilter:
    """Entries captured in [since, until), optionally of one subject and one purpose."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None
    subject: uuid.UUID | None = None
    purpose: str = ""

    def entries(self) -> QuerySet[ConsentEntry]:
        entries = ConsentEntry.objects.order_by("id")
        if self.since is not None:
            entries = entries.filter(captured_at__gte=self.since)
        if self.until is not None:
            entries = entries.filter(captured_at__lt=self.until)
        if self.subject is not None:
            entries = entries.filter(profile_id=self.subject)
        if self.purpose:
            entries = entries.filter(purpose=self.purpose)
        return entries

    def describe(self) -> dict[str, str]:
        return {
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
            "subject": str(self.subject) if self.subject else "",
            "purpose": self.purpose,
        }


def consent_filter(
    *, since: str | None = None, until: str | None = None, subject: str | None = None,
    purpose: str | None = None,
) -> ConsentFilter:
    """Filters from text (command line): dates are whole local days, `until` included."""
    try:
        chosen = ConsentFilter(
            since=parse_bound(since) if since else None,
            until=parse_bound(until, end=True) if until else None,
            subject=uuid.UUID(subject) if subject else None,
            purpose=purpose or "",
        )
    except BadBound as exc:
        raise ExportInvalid(str(exc)) from exc
    except ValueError as exc:
        raise ExportInvalid("subject: not a profile id (UUID)") from exc
    if chosen.since and chosen.until and chosen.until <= chosen.since:
        raise ExportInvalid("until must be after since")
    return chosen


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    item = {name: row[_LOOKUPS.get(name, name)] for name in COLUMNS}
    item["profile_id"] = str(item["profile_id"])
    for name in ("captured_at", "recorded_at", "expires_at"):
        item[name] = item[name].astimezone(dt.UTC).isoformat() if item[name] else None
    return item


def _csv_cells(row: dict[str, Any]) -> list[Any]:
    item = _plain(row)
    # Evidence comes from sources: as JSON text, and guarded like every other cell.
    item["evidence"] = json.dumps(item["evidence"], sort_keys=True, ensure_ascii=False)
    return ["" if item[name] is None else spreadsheet_safe(item[name]) for name in COLUMNS]


def _json_text(row: dict[str, Any]) -> str:
    return json.dumps(_plain(row), ensure_ascii=False)


class ConsentExport(StreamedExport):
    """Entries in ledger (id) order with every proof field."""

    def __init__(self, entries: QuerySet[ConsentEntry], fmt: str) -> None:
        if fmt not in FORMATS:
            raise ExportInvalid(f"format must be one of {', '.join(FORMATS)}")
        fields = [_LOOKUPS.get(name, name) for name in COLUMNS]
        super().__init__(
            fmt=fmt, columns=COLUMNS, csv_cells=_csv_cells, json_text=_json_text,
            rows=lambda: entries.values(*fields).iterator(chunk_size=2000),
        )


def consents_export(
    *, fmt: str, actor: str, via: str, filters: ConsentFilter | None = None,
    entries: QuerySet[ConsentEntry] | None = None,
    described: dict[str, Any] | None = None,
) -> ConsentExport:
    """Record the export (who, which entries, how), then hand back the rows to stream.

    Rows are those of `filters`, or an already chosen `entries` (the admin's selection,
    or its filtered list: then `described` says which filters, for the audit row).
    The audit row is written before the first row leaves: an interrupted export is on
    record too.
    """
    filters = filters or ConsentFilter()
    if entries is None:
        entries, described = filters.entries(), filters.describe()
    else:
        if described is None:
            described = {"selected": str(entries.count())}
        entries = entries.order_by("id")
    export = ConsentExport(entries, fmt)
    with transaction.atomic():
        audit_record(
            actor=actor, action="consent.export", object_type="consent_ledger",
            profile_id=filters.subject, details={"format": fmt, "via": via, **described},
        )
    return export
