"""Write a demo stream to the database through the ingestion services, never raw rows.

Records go through record_parse + records_upsert and events through event_parse +
events_ingest, exactly as an import would; only consent entries, which have no service
yet, are bulk-created. Everything is keyed so that a second run with the same seed adds
nothing: records come back unchanged, events as duplicates, consents are skipped for
records that already have some.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction

from cdp.demo.consents import DemoConsent
from cdp.demo.generator import DemoCustomer, DemoStats
from cdp.demo.output import truth_writer
from cdp.models import AuditEvent, ConsentEntry, Source, SourceRecord
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
                   report: DemoLoadReport) -> None:
    wanted: dict[str, list[DemoConsent]] = defaultdict(list)
    for customer in batch:
        for consent in customer.consents:
            wanted[consent.source].append(consent)
    rows = []
    for name, consents in wanted.items():
        records = SourceRecord.objects.filter(
            source=sources[name], external_id__in={c.external_id for c in consents}
        ).values_list("external_id", "id", "profile_id")
        found = {ext: (rid, pid) for ext, rid, pid in records}
        # A record that already has consent entries was loaded by an earlier run.
        done = set(ConsentEntry.objects.filter(
            record_id__in=[rid for rid, _ in found.values()]
        ).values_list("record_id", flat=True))
        for c in consents:
            record_id, profile_id = found.get(c.external_id, (None, None))
            if record_id is None or record_id in done:
                report.consents_skipped += 1
                continue
            rows.append(ConsentEntry(
                profile_id=profile_id, record_id=record_id, source=sources[name],
                purpose=c.purpose, status=c.status, lawful_basis=c.lawful_basis,
                channel=c.channel, notice_version=c.notice_version, evidence=c.evidence,
                captured_at=c.captured_at,
            ))
    with transaction.atomic():
        ConsentEntry.objects.bulk_create(rows, batch_size=2000)
    report.consents_created += len(rows)


def _flush(batch: Sequence[DemoCustomer], sources: dict[str, Source],
           report: DemoLoadReport) -> None:
    # Records first: events and consents find their person through them.
    _load_records(batch, sources, report)
    _load_events(batch, sources, report)
    _load_consents(batch, sources, report)


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
                _flush(batch, sources, report)
                batch, pending = [], 0
        if batch:
            _flush(batch, sources, report)
    AuditEvent.objects.create(
        actor=actor, action="demo.generate", object_type="source",
        details={"customers": report.stats.customers,
                 "records_created": report.records_created,
                 "events_created": report.events_created,
                 "consents_created": report.consents_created},
    )
    return report
