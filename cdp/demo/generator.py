"""The demo stream: one DemoCustomer at a time, fully determined by (seed, as_of).

Nothing depends on the number of customers asked for, so the first N customers of a
larger run are the N customers of a smaller one with the same seed.
"""

import datetime as dt
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from faker import Faker

from cdp.demo.activity import Activity, DemoEvent
from cdp.demo.consents import DemoConsent, record_consents
from cdp.demo.data import Pools
from cdp.demo.people import Person, make_person
from cdp.demo.planted import Planter
from cdp.demo.records import SOURCES, DemoRecord, IdMaker, person_records


@dataclass
class DemoCustomer:
    entity_id: str
    person: Person
    records: list[DemoRecord]
    events: list[DemoEvent]
    consents: list[DemoConsent]
    # The planted persona (cdp.demo.planted): ground truth for clustering, like entity_id
    # is for identity resolution.
    persona: str = ""


@dataclass
class DemoStats:
    """What a run produced, whatever it was written to."""

    customers: int = 0
    records: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    consents: int = 0

    def add(self, customer: DemoCustomer) -> None:
        self.customers += 1
        self.records.update(r.source for r in customer.records)
        self.events.update(e.source for e in customer.events)
        self.consents += len(customer.consents)

    def summary(self) -> str:
        per_source = ", ".join(f"{s} {self.records[s]}" for s in SOURCES)
        return (
            f"{self.customers} customers, {self.records.total()} records ({per_source}), "
            f"{self.events.total()} events, {self.consents} consents"
        )


def generate(*, customers: int, seed: int, as_of: dt.datetime) -> Iterator[DemoCustomer]:
    """Yield `customers` true customers with their records, events and consents.

    as_of must be timezone-aware: events and consents fall in the two years before it.
    """
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    rng = random.Random(seed)  # noqa: S311 - demo data, not secrets
    faker = Faker("fr_FR")
    faker.seed_instance(seed)
    pools = Pools(faker)
    ids = IdMaker()
    activity = Activity(seed=seed, as_of=as_of, ids=ids)
    planter = Planter(seed=seed, as_of=as_of)
    used_emails: set[str] = set()
    previous: Person | None = None
    for index in range(1, customers + 1):
        # About 3% of people live with the previous one: same address and landline, often
        # the same surname; a trap for matching on household data alone.
        housemate = previous if previous is not None and rng.random() < 0.03 else None
        person = make_person(index, rng, pools, used_emails, housemate)
        records = person_records(person, rng, ids, as_of)
        events: list[DemoEvent] = []
        consents: list[DemoConsent] = []
        histories = []
        for rec in records:
            history = record_consents(rec, rng, as_of)
            histories.append(history)
            consents.extend(history.entries)
            events.extend(activity.for_record(rec, person, rng, history))
        # After the base stream, from a random stream of its own: the base stays as it was.
        persona, planted = planter.events(person, records, histories)
        events.extend(planted)
        yield DemoCustomer(person.entity_id, person, records, events, consents, persona.name)
        previous = person
