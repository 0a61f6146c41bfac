"""Small synthetic data for the model tests: profiles, profiling consent, events, traits.

Written with bulk_create (no ingestion path): these tests are about what the models do
with the data, and must stay fast.
"""

import datetime as dt
import itertools
import random
from decimal import Decimal

from cdp.models import ConsentEntry, Event, Profile, Source
from segments.models import ProfileTraits

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
_ids = itertools.count(1)


def shop() -> Source:
    """The events' source; cached per test database (ids restart with each test's rollback
    only if the row is gone, so look it up again when it is)."""
    cached = _source.get("shop")
    if cached is None or not Source.objects.filter(pk=cached.pk, name="shop").exists():
        cached = Source.objects.get_or_create(name="shop",
                                              defaults={"kind": Source.Kind.SHOP})[0]
        _source["shop"] = cached
    return cached


_source: dict[str, Source] = {}


def profiles(count: int, *, consent: bool = True) -> list[Profile]:
    made = Profile.objects.bulk_create([Profile() for _ in range(count)])
    if consent:
        grant(made)
    return made


def grant(people: list[Profile], status: str = "granted", at: dt.datetime | None = None) -> None:
    ConsentEntry.objects.bulk_create([
        ConsentEntry(profile=p, purpose="profiling", status=status,
                     captured_at=at or NOW - 500 * DAY) for p in people])


def event(profile: Profile, kind: str, at: dt.datetime, value: float | None = None,
          source: Source | None = None) -> Event:
    return Event(source=source or _source_for_batch(), event_id=f"ml-{next(_ids)}",
                 profile=profile, type=kind, occurred_at=at, received_at=at,
                 value=None if value is None else Decimal(f"{value:.2f}"))


def _source_for_batch() -> Source:
    # One lookup per batch of events: save() forgets it.
    if "batch" not in _source:
        _source["batch"] = shop()
    return _source["batch"]


def save(events: list[Event]) -> None:
    _source.pop("batch", None)
    Event.objects.bulk_create(events, batch_size=5000)


def propensity_data(count: int = 600, seed: int = 1) -> list[Profile]:
    """Purchases at a rate of the profile's own: the past predicts the next 30 days."""
    rng = random.Random(seed)
    people = profiles(count)
    events = []
    for person in people:
        rate = rng.lognormvariate(-3.2, 1.0)  # purchases per day
        at = NOW - 400 * DAY
        while (at := at + dt.timedelta(days=rng.expovariate(rate))) < NOW:
            events.append(event(person, "purchase", at, rng.uniform(10, 90)))
        events.append(event(person, "page_view", NOW - rng.uniform(31, 399) * DAY))
    save(events)
    return people


BLOBS = ((3, 20.0), (30, 22.0), (4, 300.0), (25, 150.0))


def planted_traits(per_blob: int = 120, seed: int = 2, blobs=BLOBS) -> list[list[Profile]]:
    """Stored traits in well separated groups of (purchase_count, avg_basket)."""
    rng = random.Random(seed)
    groups = []
    rows = []
    for count, basket in blobs:
        people = profiles(per_blob)
        groups.append(people)
        for person in people:
            n = max(1, round(count * rng.lognormvariate(0, 0.15)))
            avg = basket * rng.lognormvariate(0, 0.15)
            rows.append(ProfileTraits(
                profile=person, purchase_count=n, purchase_count_365d=n,
                revenue_total=Decimal(f"{n * avg:.2f}"), avg_basket=Decimal(f"{avg:.2f}"),
                last_purchase_at=NOW - rng.uniform(1, 60) * DAY,
                last_activity_at=NOW - rng.uniform(0, 30) * DAY, computed_at=NOW))
    ProfileTraits.objects.bulk_create(rows)
    return groups
