"""Write a demo stream to the database through the ingestion services, never raw rows.

Records go through record_parse + records_upsert, events through event_parse +
events_ingest and consent entries through consents_record, exactly as an import or the
API would. Everything is keyed so that a second run with the same seed adds nothing:
records come back unchanged, events and consent entries as duplicates.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cdp.audit import audit_record
from cdp.demo.consents import DemoConsent
from cdp.demo.generator import DemoCustomer, DemoStats
from cdp.demo.output import truth_writer
from cdp.models import Source
from cdp.services.consents import consents_record
from cdp.services.events import ParsedEvent, event_parse, events_ingest
from cdp.services.record_parsing import ParsedRecord, record_parse
from cdp.services.records import records_upsert

# name -> (kind, priority): the golden record trusts the CRM first, the newsletter last.
DEMO_SOURCES: dict[str, tuple[str, int]] = {
    "crm": (Source.Kind.CRM, 300),
    "shop": (Source.Kind.SHOP, 200),
    "newsletter": (Source.Kind.NEWSLETTER, 100),
}
REGION = "FR"
RECORD_CHUNK = 2000
EVENT_CHUNK = 5000
CONSENT_CHUNK = 5000


@dataclass
class DemoLoadReport:
    stats: DemoStats = field(default_factory=DemoStats)
    records_created: int = 0
    records_updated: int = 0
    records_unchanged: int = 0
    # Fields stored as missing because normalization refused them (the planted garbage).
    record_warnings: int = 0
    records_rejected: int = 0
    events_created: int = 0
    events_duplicates: int = 0
    events_rejected: int = 0
    consents_created: int = 0
    consents_skipped: int = 0

    def summary(self) -> str:
        return (
            f"{self.stats.summary()}; database: records created {self.records_created}, "
            f"updated {self.records_updated}, unchanged {self.records_unchanged}, rejected "
            f"{self.records_rejected}, {self.record_warnings} field warnings; events created "
            f"{self.events_created}, already present {self.events_duplicates}, rejected "
            f"{self.events_rejected}; consents created {self.consents_created}, skipped "
            f"{self.consents_skipped}"
        )


def demo_sources_ensure() -> dict[str, Source]:
    """The three demo sources, created with their kind and priority when missing."""
    sources = {}
    for name, (kind, priority) in DEMO_SOURCES.items():
        sources[name], _ = Source.objects.get_or_create(
            name=name, defaults={"kind": kind, "priority": priority}
        )
    return sources


def _load_records(batch: Sequence[DemoCustomer], sources: dict[str, Source],
                  report: DemoLoadReport) -> None:
    parsed: dict[str, list[ParsedRecord]] = defaultdict(list)
    for customer in batch:
        for rec in customer.records:
            outcome = record_parse(rec.raw(), strict=False, region=REGION)
            if outcome.record is None:
                report.records_rejected += 1
                continue
            report.record_warnings += len(outcome.issues)
            parsed[rec.source].append(outcome.record)
    for name, items in parsed.items():
        for start in range(0, len(items), RECORD_CHUNK):
            chunk = items[start:start + RECORD_CHUNK]
            result = records_upsert(source=sources[name], records=chunk)
            report.records_created += result.created
            report.records_updated += result.updated
            report.records_unchanged += result.unchanged


def _load_events(batch: Sequence[DemoCustomer], sources: dict[str, Source],
                 report: DemoLoadReport) -> None:
    parsed: dict[str, list[ParsedEvent]] = defaultdict(list)
    for customer in batch:
        for event in customer.events:
            outcome = event_parse(event.raw(), strict=False, region=REGION)
            if outcome.event is None:
                report.events_rejected += 1
                continue
            parsed[event.source].append(outcome.event)
    for name, items in parsed.items():
        for start in range(0, len(items), EVENT_CHUNK):
            chunk = items[start:start + EVENT_CHUNK]
            result = events_ingest(source=sources[name], events=chunk)
            report.events_created += result.created
            report.events_duplicates += result.duplicates


def _load_consents(batch: Sequence[DemoCustomer], sources: dict[str, Source],
                   report: DemoLoadReport, actor: str) -> None:
    wanted: dict[str, list[DemoConsent]] = defaultdict(list)
    for customer in batch:
        for consent in customer.consents:
            wanted[consent.source].append(consent)
    for name, consents in wanted.items():
        for start in range(0, len(consents), CONSENT_CHUNK):
            items = [c.raw() for c in consents[start:start + CONSENT_CHUNK]]
            result = consents_record(
                source=sources[name], items=items, strict=True, recorded_by=actor
            )
            report.consents_created += result.created
            report.consents_skipped += result.duplicates + result.received - result.accepted


def _flush(batch: Sequence[DemoCustomer], sources: dict[str, Source],
           report: DemoLoadReport, actor: str) -> None:
    # Records first: events and consents find their person through them.
    _load_records(batch, sources, report)
    _load_events(batch, sources, report)
    _load_consents(batch, sources, report, actor)


def demo_load(
    *, customers: Iterable[DemoCustomer], actor: str, truth: Path | None = None
) -> DemoLoadReport:
    """Upsert the records, ingest the events and add the consents of a demo stream."""
    sources = demo_sources_ensure()
    report = DemoLoadReport()
    batch: list[DemoCustomer] = []
    pending = 0
    with truth_writer(truth) as write_truth:
        for customer in customers:
            report.stats.add(customer)
            write_truth(customer)
            batch.append(customer)
            pending += len(customer.records)
            if pending >= RECORD_CHUNK:
                _flush(batch, sources, report, actor)
                batch, pending = [], 0
        if batch:
            _flush(batch, sources, report, actor)
    audit_record(
        actor=actor, action="demo.generate", object_type="source",
        details={"customers": report.stats.customers,
                 "records_created": report.records_created,
                 "events_created": report.events_created,
                 "consents_created": report.consents_created},
    )
    return report
