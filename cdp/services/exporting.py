"""What every DPO export shares: date bounds, CSV-injection guard, and streaming a query
as CSV or a JSON array in text chunks with flat memory.

An export only says which rows it reads and how one row becomes CSV cells and JSON text.
"""

import csv
import io
from collections.abc import Callable, Iterator
from datetime import datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

FORMATS: tuple[str, ...] = ("csv", "json")
FLUSH_ROWS = 1000  # rows per yielded text chunk
# Spreadsheets run cells starting with these as formulas (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


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


def spreadsheet_safe(value: Any) -> Any:
    """A cell a spreadsheet will not run as a formula (leading ' when it would)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


class StreamedExport:
    """Rows as CSV (header + rows) or a JSON array, as text chunks; iterate once.

    `rows` opens the query (a server-side cursor); `rows_written` counts rows so far.
    """

    def __init__(
        self,
        *,
        fmt: str,
        columns: tuple[str, ...],
        rows: Callable[[], Iterator[Any]],
        csv_cells: Callable[[Any], list[Any]],
        json_text: Callable[[Any], str],
    ) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}")
        self.fmt, self.columns = fmt, columns
        self._open, self._csv_cells, self._json_text = rows, csv_cells, json_text
        self.rows = 0

    @property
    def content_type(self) -> str:
        return "text/csv; charset=utf-8" if self.fmt == "csv" else "application/json"

    def __iter__(self) -> Iterator[str]:
        # Inside a transaction PostgreSQL's server-side cursor is a plain one, which
        # streams; outside, Django declares it WITH HOLD and the server materializes it.
        with transaction.atomic():
            rows = self._open()
            try:
                yield from self._csv(rows) if self.fmt == "csv" else self._json(rows)
            finally:
                close = getattr(rows, "close", None)
                if close:
                    close()  # before the transaction ends (a consumer may stop early)

    def _csv(self, rows: Iterator[Any]) -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(self.columns)
        for row in rows:
            writer.writerow(self._csv_cells(row))
            self.rows += 1
            if self.rows % FLUSH_ROWS == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    def _json(self, rows: Iterator[Any]) -> Iterator[str]:
        parts = ["["]
        for row in rows:
            parts.append(("\n" if self.rows == 0 else ",\n") + self._json_text(row))
            self.rows += 1
            if self.rows % FLUSH_ROWS == 0:
                yield "".join(parts)
                parts = []
        parts.append("\n]\n")
        yield "".join(parts)
