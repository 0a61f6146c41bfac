"""The DPO's proof of erasure at destinations: one row per destination and person, with
the vendor's answer, streamed as CSV or JSON; the export itself is audited.

The command, the API and the admin share it (cdp.services.exporting does the streaming).
Dates filter on when the delivery was created (the erasure), as whole local days.
"""

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from cdp.audit import audit_record
from cdp.services.exporting import BadBound, StreamedExport, parse_bound, spreadsheet_safe
from connectors.models import ErasureDelivery
from connectors.services import Invalid

COLUMNS: tuple[str, ...] = (
    "id", "request", "destination", "destination_kind", "profile_id", "container",
    "remote_id", "status", "attempts", "vendor_response", "created_at", "updated_at",
    "done_at",
)
_LOOKUPS = {"request": "request_id", "destination": "destination__name",
            "destination_kind": "destination__kind"}
_TIMES = ("created_at", "updated_at", "done_at")


@dataclass(frozen=True)
class DeliveryFilter:
    """Deliveries created in [since, until), optionally of one request, status, subject."""

    request: int | None = None
    status: str = ""
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    subject: uuid.UUID | None = None

    def deliveries(self) -> QuerySet[ErasureDelivery]:
        rows = ErasureDelivery.objects.order_by("id")
        if self.request is not None:
            rows = rows.filter(request_id=self.request)
        if self.status:
            rows = rows.filter(status=self.status)
        if self.since is not None:
            rows = rows.filter(created_at__gte=self.since)
        if self.until is not None:
            rows = rows.filter(created_at__lt=self.until)
        if self.subject is not None:
            rows = rows.filter(profile_id=self.subject)
        return rows

    def describe(self) -> dict[str, Any]:
        return {
            "request": self.request, "status": self.status,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
            "subject": str(self.subject) if self.subject else "",
        }


def delivery_filter(
    *, request: str | int | None = None, status: str | None = None, since: str | None = None,
    until: str | None = None, subject: str | None = None,
) -> DeliveryFilter:
    """Filters from text (a command line); raises Invalid naming the bad one."""
    try:
        request_id = int(request) if request not in (None, "") else None
    except (TypeError, ValueError) as exc:
        raise Invalid("request", "not a request id (a number)") from exc
    if status and status not in ErasureDelivery.Status.values:
        raise Invalid("status", f"one of {', '.join(ErasureDelivery.Status.values)}")
    start = _bound("since", since, end=False)
    end = _bound("until", until, end=True)
    try:
        profile = uuid.UUID(subject) if subject else None
    except ValueError as exc:
        raise Invalid("subject", "not a profile id (UUID)") from exc
    if start and end and end <= start:
        raise Invalid("until", "must be after since")
    return DeliveryFilter(request=request_id, status=status or "", since=start, until=end,
                          subject=profile)


def _bound(name: str, text: str | None, *, end: bool) -> dt.datetime | None:
    try:
        return parse_bound(text, end=end) if text else None
    except BadBound as exc:
        raise Invalid(name, str(exc)) from exc


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    item = {name: row[_LOOKUPS.get(name, name)] for name in COLUMNS}
    item["profile_id"] = str(item["profile_id"])
    for name in _TIMES:
        item[name] = item[name].astimezone(dt.UTC).isoformat() if item[name] else None
    return item


def _csv_cells(row: dict[str, Any]) -> list[Any]:
    item = _plain(row)
    item["container"] = json.dumps(item["container"], sort_keys=True, ensure_ascii=False)
    return ["" if item[name] is None else spreadsheet_safe(item[name]) for name in COLUMNS]


def _json_text(row: dict[str, Any]) -> str:
    return json.dumps(_plain(row), ensure_ascii=False)


def erasure_deliveries_export(
    *, fmt: str, actor: str, via: str, filters: DeliveryFilter | None = None,
    deliveries: QuerySet[ErasureDelivery] | None = None,
) -> StreamedExport:
    """Record the export (who, which rows, how), then hand back the rows to stream.
    Rows are those of `filters`, or an already chosen `deliveries` (the admin's
    selection). The audit row is written before the first row leaves."""
    filters = filters or DeliveryFilter()
    if deliveries is None:
        deliveries, described = filters.deliveries(), filters.describe()
    else:
        deliveries, described = deliveries.order_by("id"), {"selected": deliveries.count()}
    fields = [_LOOKUPS.get(name, name) for name in COLUMNS]
    export = StreamedExport(
        fmt=fmt, columns=COLUMNS, csv_cells=_csv_cells, json_text=_json_text,
        rows=lambda: deliveries.values(*fields).iterator(chunk_size=2000),
    )
    with transaction.atomic():
        audit_record(
            actor=actor, action="erasure_delivery.export", object_type="erasure_delivery",
            profile_id=filters.subject, details={"format": fmt, "via": via, **described},
        )
    return export
