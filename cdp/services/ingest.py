"""Batch ingestion as the API sees it: per-item errors, valid items stored, counts back."""

from collections.abc import Sequence
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


def _issues(index: int, pairs: list[tuple[str | None, str]]) -> list[ItemIssue]:
    return [ItemIssue(index, name, message) for name, message in pairs]


def record_batch_ingest(*, source: Source, items: Sequence[Any]) -> BatchReport:
    """Strictly validate each item; store the valid ones in one transaction."""
    report = BatchReport(received=len(items))
    parsed = []
    for index, raw in enumerate(items):
        if not isinstance(raw, dict):
            report.errors.append(ItemIssue(index, None, "must be an object"))
            continue
        outcome = record_parse(raw, strict=True, region=settings.CDP_DEFAULT_PHONE_REGION)
        report.errors.extend(_issues(index, outcome.issues))
        if outcome.record is not None:
            parsed.append(outcome.record)
    report.accepted = len(parsed)
    if parsed:
        result = records_upsert(source=source, records=parsed)
        report.created, report.updated, report.unchanged = (
            result.created,
            result.updated,
            result.unchanged,
        )
    return report


def event_batch_ingest(*, source: Source, items: Sequence[Any]) -> BatchReport:
    """Strictly validate each event; store new ones, count resent ones as duplicates."""
    report = BatchReport(received=len(items))
    parsed = []
    for index, raw in enumerate(items):
        if not isinstance(raw, dict):
            report.errors.append(ItemIssue(index, None, "must be an object"))
            continue
        outcome = event_parse(raw, strict=True, region=settings.CDP_DEFAULT_PHONE_REGION)
        report.errors.extend(_issues(index, outcome.issues))
        if outcome.event is not None:
            parsed.append(outcome.event)
    report.accepted = len(parsed)
    if parsed:
        result = events_ingest(source=source, events=parsed)
        report.created, report.duplicates = result.created, result.duplicates
    return report
