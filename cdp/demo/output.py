"""Stream a demo run to CSV files shaped for import_records / import_events /
import_consents, and the truth.

Rows are written as customers are generated, so memory stays flat however many are made.
"""

import csv
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

from cdp.demo.activity import EVENT_COLUMNS
from cdp.demo.consents import CONSENT_COLUMNS
from cdp.demo.generator import DemoCustomer, DemoStats
from cdp.demo.records import RECORD_COLUMNS, SOURCES

TRUTH_COLUMNS: tuple[str, ...] = ("source", "external_id", "entity_id")


class _Writer:
    """csv.DictWriter without its per-row overhead; still refuses unknown columns."""

    def __init__(self, stack: ExitStack, path: Path, columns: Sequence[str]) -> None:
        handle = stack.enter_context(path.open("w", newline="", encoding="utf-8"))
        self.columns, self.known = tuple(columns), frozenset(columns)
        self.writer = csv.writer(handle)
        self.writer.writerow(self.columns)

    def write(self, row: dict[str, str]) -> None:
        if not row.keys() <= self.known:
            raise ValueError(f"columns not in the header: {sorted(row.keys() - self.known)}")
        self.writer.writerow([row.get(c, "") for c in self.columns])


@contextmanager
def truth_writer(path: Path | None) -> Iterator[Callable[[DemoCustomer], None]]:
    """A function writing the true entity of each record of a customer (no-op without path)."""
    if path is None:
        yield lambda customer: None
        return
    with ExitStack() as stack:
        writer = csv.writer(stack.enter_context(path.open("w", newline="", encoding="utf-8")))
        writer.writerow(TRUTH_COLUMNS)

        def write(customer: DemoCustomer) -> None:
            writer.writerows((r.source, r.external_id, customer.entity_id)
                             for r in customer.records)

        yield write


def demo_write_csv(
    *, customers: Iterable[DemoCustomer], out_dir: Path, truth: Path | None = None
) -> DemoStats:
    """Write records_<source>.csv, events_<source>.csv and consents_<source>.csv.

    Import the records files before the events and consents files: those name people by
    ids the records bring, and an unknown id would create an implicit record instead.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    stats = DemoStats()
    with ExitStack() as stack:
        records = {s: _Writer(stack, out_dir / f"records_{s}.csv", RECORD_COLUMNS[s])
                   for s in SOURCES}
        events = {s: _Writer(stack, out_dir / f"events_{s}.csv", EVENT_COLUMNS[s])
                  for s in SOURCES}
        consents = {s: _Writer(stack, out_dir / f"consents_{s}.csv", CONSENT_COLUMNS)
                    for s in SOURCES}
        write_truth = stack.enter_context(truth_writer(truth))
        for customer in customers:
            stats.add(customer)
            for rec in customer.records:
                records[rec.source].write(rec.row())
            for event in customer.events:
                events[event.source].write(event.row())
            for consent in customer.consents:
                consents[consent.source].write(consent.row())
            write_truth(customer)
    return stats
