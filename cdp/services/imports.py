"""Streaming CSV import of records, events and consent entries.

The file is read in chunks; parsing and normalization (the CPU-heavy part) can run in
worker processes while the main process writes to the database, so a 1M-row file never
sits in memory. Every problem is reported with its line number and never its value.
"""

import csv
import datetime as dt
import io
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from django.utils import timezone

from cdp.db import refresh_planner_stats
from cdp.fields import ENCRYPTED_FIELDS, STANDARD_FIELDS
from cdp.models import ConsentEntry, Event, Source, SourceRecord
from cdp.services.consent_parsing import consent_parse
from cdp.services.consents import consents_store, purposes_known
from cdp.services.events import event_parse, events_ingest
from cdp.services.record_parsing import record_parse
from cdp.services.records import record_prepare, records_upsert
from cdp.services.subjects import IDENTIFIERS

Row = tuple[int, dict[str, str]]


class ImportConfigError(ValueError):
    """The file or the options cannot be used at all (no id column, bad --map, ...)."""


@dataclass
class LineIssue:
    line: int
    field: str | None
    message: str
    rejected: bool


@dataclass
class ImportReport:
    rows: int = 0
    accepted: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    issues: list[LineIssue] = field(default_factory=list)
    issue_count: int = 0
    rejected: int = 0
    max_kept_issues: int = 10000

    def note(self, issue: LineIssue) -> None:
        self.issue_count += 1
        self.rejected += issue.rejected
        if len(self.issues) < self.max_kept_issues:
            self.issues.append(issue)


class _ByteCounter(io.RawIOBase):
    """Wraps the binary file so the progress bar can follow bytes read."""

    def __init__(self, raw: io.BufferedReader, on_read: Callable[[int], None] | None):
        self.raw, self.on_read = raw, on_read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self.raw.readinto(buffer)
        if self.on_read and count:
            self.on_read(count)
        return count


def _sniff_delimiter(path: Path) -> str:
    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        header = handle.readline()
    counts = {d: header.count(d) for d in (",", ";", "\t", "|")}
    return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def csv_chunks(
    path: Path, *, chunk_size: int, on_read: Callable[[int], None] | None = None
) -> tuple[list[str], Iterator[list[Row]]]:
    """The header and an iterator of chunks of (line number, row) read lazily."""
    delimiter = _sniff_delimiter(path)
    raw = path.open("rb")
    text = io.TextIOWrapper(
        io.BufferedReader(_ByteCounter(raw, on_read)), encoding="utf-8-sig", newline=""
    )
    reader = csv.reader(text, delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration as exc:
        raw.close()
        raise ImportConfigError("the file is empty") from exc
    except UnicodeDecodeError as exc:
        raw.close()
        raise ImportConfigError("the file is not UTF-8 text") from exc
    if len(set(header)) != len(header):
        raw.close()
        raise ImportConfigError("the header repeats a column name")

    def chunks() -> Iterator[list[Row]]:
        chunk: list[Row] = []
        previous = reader.line_num
        try:
            for values in reader:
                start, previous = previous + 1, reader.line_num
                if not any(v.strip() for v in values):
                    continue
                chunk.append((start, dict(zip(header, values, strict=False))))
                if len(chunk) >= chunk_size:
                    yield chunk
                    chunk = []
            if chunk:
                yield chunk
        except UnicodeDecodeError as exc:
            raise ImportConfigError(f"line {previous + 1}: not UTF-8 text") from exc
        finally:
            raw.close()

    return header, chunks()


def record_column_map(
    header: list[str], *, id_column: str | None, maps: dict[str, str]
) -> dict[str, str]:
    """Column -> target: 'external_id', a standard field, 'attributes.<col>' or '-' (skip)."""
    lowered = {h.lower(): h for h in header}
    id_col = id_column or next((lowered[c] for c in ("external_id", "id") if c in lowered), None)
    if id_col is None or id_col not in header:
        raise ImportConfigError(
            f"no id column {id_col!r}" if id_col else "no external_id/id column (use --id-column)"
        )
    for column, target in maps.items():
        if column not in header:
            raise ImportConfigError(f"--map names a column the file lacks: {column}")
        if target not in STANDARD_FIELDS and target != "-":
            raise ImportConfigError(f"--map target is not a standard field: {target}")
    mapping = {}
    for column in header:
        if column == id_col:
            mapping[column] = "external_id"
        elif column in maps:
            mapping[column] = maps[column]
        elif column.lower() in STANDARD_FIELDS:
            mapping[column] = column.lower()
        else:
            mapping[column] = f"attributes.{column}"
    targets = [t for t in mapping.values() if t != "-" and not t.startswith("attributes.")]
    if len(targets) != len(set(targets)):
        raise ImportConfigError("two columns map to the same field")
    return mapping


def _record_from_row(row: dict[str, str], mapping: dict[str, str]) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    attributes: dict[str, str] = {}
    for column, value in row.items():
        target = mapping.get(column, "-")
        if target == "-" or value is None:
            continue
        if target.startswith("attributes."):
            if value.strip():
                attributes[target[11:]] = value.strip()
        elif value.strip():
            raw[target] = value
    if attributes:
        raw["attributes"] = attributes
    return raw


def parse_record_chunk(chunk: list[Row], mapping: dict[str, str], region: str) -> tuple:
    """Worker-side: rows -> parsed records and issues (picklable in and out)."""
    parsed, issues = [], []
    for line, row in chunk:
        outcome = record_parse(_record_from_row(row, mapping), strict=False, region=region)
        rejected = outcome.record is None
        issues.extend(LineIssue(line, f, m, rejected) for f, m in outcome.issues)
        if rejected and not outcome.issues:
            issues.append(LineIssue(line, None, "rejected", True))
        if not rejected:
            parsed.append(record_prepare(outcome.record))
    return len(chunk), parsed, issues


def parse_event_chunk(chunk: list[Row], region: str) -> tuple:
    """Worker-side: rows -> parsed events; unknown columns become properties."""
    parsed, issues = [], []
    known = {"id", "type", "occurred_at", "value", *IDENTIFIERS}
    for line, row in chunk:
        raw: dict[str, Any] = {k: v for k, v in row.items() if k in known and v and v.strip()}
        props = {k: v for k, v in row.items() if k not in known and v and v.strip()}
        raw["properties"] = props
        outcome = event_parse(raw, strict=False, region=region)
        rejected = outcome.event is None
        issues.extend(LineIssue(line, f, m, rejected) for f, m in outcome.issues)
        if not rejected:
            parsed.append(outcome.event)
    return len(chunk), parsed, issues


def _pipeline(chunks: Iterable[list[Row]], work: Callable, workers: int) -> Iterator[tuple]:
    """Apply `work` to chunks in order, in `workers` processes, with bounded read-ahead."""
    if workers <= 1:
        for chunk in chunks:
            yield work(chunk)
        return
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending: deque = deque()
        for chunk in chunks:
            pending.append(pool.submit(work, chunk))
            if len(pending) >= workers * 2:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _keep_stats_fresh(table: str, chunk_number: int) -> None:
    # After chunks 2, 4, 8, 16...: log2(n) cheap ANALYZEs over the whole import.
    if chunk_number >= 2 and chunk_number & (chunk_number - 1) == 0:
        refresh_planner_stats(table)


def _run(
    results: Iterable[tuple], table: str, store: Callable[[list, ImportReport], None]
) -> ImportReport:
    """Consume parsed chunks in order: note their problems, store their valid items."""
    report = ImportReport()
    for number, (count, parsed, issues) in enumerate(results, 1):
        _keep_stats_fresh(table, number)
        report.rows += count
        for issue in issues:
            report.note(issue)
        if parsed:
            store(parsed, report)
            report.accepted += len(parsed)
    return report


def records_import(
    *,
    path: Path,
    source: Source,
    id_column: str | None = None,
    maps: dict[str, str] | None = None,
    region: str = "FR",
    workers: int = 1,
    chunk_size: int = 2000,
    on_read: Callable[[int], None] | None = None,
) -> ImportReport:
    header, chunks = csv_chunks(path, chunk_size=chunk_size, on_read=on_read)
    mapping = record_column_map(header, id_column=id_column, maps=maps or {})
    work = partial(parse_record_chunk, mapping=mapping, region=region)

    def store(parsed: list, report: ImportReport) -> None:
        result = records_upsert(source=source, records=parsed)
        report.created += result.created
        report.updated += result.updated
        report.unchanged += result.unchanged

    return _run(_pipeline(chunks, work, workers), SourceRecord._meta.db_table, store)


def events_import(
    *,
    path: Path,
    source: Source,
    region: str = "FR",
    workers: int = 1,
    chunk_size: int = 5000,
    on_read: Callable[[int], None] | None = None,
) -> ImportReport:
    header, chunks = csv_chunks(path, chunk_size=chunk_size, on_read=on_read)
    missing = [c for c in ("id", "type", "occurred_at") if c not in header]
    if missing:
        raise ImportConfigError(f"missing column(s): {', '.join(missing)}")
    if not any(c in header for c in IDENTIFIERS):
        raise ImportConfigError("needs one identifier column: " + ", ".join(IDENTIFIERS))
    work = partial(parse_event_chunk, region=region)

    def store(parsed: list, report: ImportReport) -> None:
        result = events_ingest(source=source, events=parsed)
        report.created += result.created
        report.duplicates += result.duplicates

    return _run(_pipeline(chunks, work, workers), Event._meta.db_table, store)


def parse_consent_chunk(
    chunk: list[Row], purposes: frozenset[str], region: str, now: dt.datetime
) -> tuple:
    """Worker-side: rows -> parsed consent entries; unknown columns become evidence."""
    parsed, issues = [], []
    for line, row in chunk:
        raw = {k: v for k, v in row.items() if k and v and v.strip()}
        outcome = consent_parse(raw, strict=False, purposes=purposes, region=region, now=now)
        rejected = outcome.consent is None
        issues.extend(LineIssue(line, f, m, rejected) for f, m in outcome.issues)
        if not rejected:
            parsed.append(outcome.consent)
    return len(chunk), parsed, issues


def _consent_columns_check(header: list[str]) -> None:
    missing = [c for c in ("purpose", "status", "captured_at") if c not in header]
    if missing:
        raise ImportConfigError(f"missing column(s): {', '.join(missing)}")
    if not any(c in header for c in IDENTIFIERS):
        raise ImportConfigError("needs one identifier column: " + ", ".join(IDENTIFIERS))
    personal = [c for c in header if c in ENCRYPTED_FIELDS and c not in IDENTIFIERS]
    if personal:
        raise ImportConfigError(
            f"personal data is never kept as evidence; drop column(s): {', '.join(personal)}"
        )


def consents_import(
    *,
    path: Path,
    source: Source,
    recorded_by: str,
    region: str = "FR",
    workers: int = 1,
    chunk_size: int = 5000,
    on_read: Callable[[int], None] | None = None,
    now: dt.datetime | None = None,
) -> ImportReport:
    """Append a CSV of consent entries to the ledger; resent lines count as duplicates."""
    header, chunks = csv_chunks(path, chunk_size=chunk_size, on_read=on_read)
    _consent_columns_check(header)
    work = partial(parse_consent_chunk, purposes=purposes_known(), region=region,
                   now=now or timezone.now())

    def store(parsed: list, report: ImportReport) -> None:
        result = consents_store(source=source, consents=parsed, recorded_by=recorded_by)
        report.created += result.created
        report.duplicates += result.duplicates

    return _run(_pipeline(chunks, work, workers), ConsentEntry._meta.db_table, store)
