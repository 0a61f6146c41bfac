"""Batch ingestion as the API sees it: per-item errors, valid items stored, counts back."""

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from django.conf import settings

from cdp.models import Source
from cdp.services.events import event_parse, events_ingest
from cdp.services.record_parsing import record_parse
from cdp.services.records import records_upsert


@dataclass
class ItemIssue:
    index: int
    field: str | None
    message: str


@dataclass
class BatchReport:
    received: int = 0
    accepted: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    errors: list[ItemIssue] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def batch_parse(items: Sequence[Any], parse: Callable[[dict], Any]) -> tuple[BatchReport, list]:
    """Parse every item strictly; collect the valid ones and the per-item errors."""
    report = BatchReport(received=len(items))
    valid = []
    for index, raw in enumerate(items):
        if not isinstance(raw, dict):
            report.errors.append(ItemIssue(index, None, "must be an object"))
            continue
        item, issues = parse(raw)
        report.errors.extend(ItemIssue(index, name, message) for name, message in issues)
        if item is not None:
            valid.append(item)
    report.accepted = len(valid)
    return report, valid


def record_batch_ingest(*, source: Source, items: Sequence[Any]) -> BatchReport:
    """Strictly validate each item; store the valid ones in one transaction."""
    region = settings.CDP_DEFAULT_PHONE_REGION

    def parse(raw: dict) -> tuple:
        outcome = record_parse(raw, strict=True, region=region)
        return outcome.record, outcome.issues

    report, parsed = batch_parse(items, parse)
    if parsed:
        result = records_upsert(source=source, records=parsed)
        report.created, report.updated = result.created, result.updated
        report.unchanged = result.unchanged
    return report


def event_batch_ingest(*, source: Source, items: Sequence[Any]) -> BatchReport:
    """Strictly validate each event; store new ones, count resent ones as duplicates."""
    region = settings.CDP_DEFAULT_PHONE_REGION

    def parse(raw: dict) -> tuple:
        outcome = event_parse(raw, strict=True, region=region)
        return outcome.event, outcome.issues

    report, parsed = batch_parse(items, parse)
    if parsed:
        result = events_ingest(source=source, events=parsed)
        report.created, report.duplicates = result.created, result.duplicates
    return report
