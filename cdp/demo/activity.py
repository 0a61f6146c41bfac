"""Behaviour over the last two years: purchases, newsletter opens and shop page views.

Each event names the person the way its emitting source knows them: the shop by its
account id (purchases) or customer number / email (page views), the CRM's tills by the
CRM id, the newsletter tool by email. Ids come from a counter prefixed with the seed, so
a rerun with the same seed sends the same ids and stores nothing twice.
"""

import datetime as dt
import math
import random
from dataclasses import dataclass, field

from cdp.demo.consents import ConsentHistory
from cdp.demo.data import CATEGORIES, MONTH_THEMES, PRODUCTS, SHOP_PAGES, Weighted
from cdp.demo.people import Person
from cdp.demo.records import DemoRecord, IdMaker

EVENT_COLUMNS: dict[str, tuple[str, ...]] = {
    "crm": ("id", "type", "occurred_at", "value", "external_id", "category", "order_id",
            "items", "store"),
    "shop": ("id", "type", "occurred_at", "value", "external_id", "customer_id", "email",
             "category", "order_id", "items", "path", "utm_campaign"),
    "newsletter": ("id", "type", "occurred_at", "value", "email", "campaign"),
}
HISTORY = dt.timedelta(days=730)
# (name, log of the median basket in euros), drawn by weight.
_CATEGORIES = Weighted([(name, math.log(median)) for name, _, median in CATEGORIES],
                       [weight for _, weight, _ in CATEGORIES])
# Hour of day (UTC) of online activity: people shop in the evening, Paris time.
_HOURS = Weighted(range(24), (1, 0.5, 0.3, 0.3, 0.5, 1, 2, 4, 5, 6, 7, 8, 7, 6, 6, 7, 8, 9,
                              10, 9, 8, 6, 3, 2))
_ITEMS = Weighted((1, 2, 3, 4, 5), (50, 25, 13, 8, 4))


@dataclass
class DemoEvent:
    source: str
    id: str
    type: str
    occurred_at: dt.datetime
    # The one identifier column the source knows the person by, and its value.
    identifier: tuple[str, str]
    value: str | None = None
    properties: dict[str, str] = field(default_factory=dict)

    def raw(self) -> dict[str, object]:
        """The event as an API item / event_parse input."""
        kind, ident = self.identifier
        return {"id": self.id, "type": self.type, "occurred_at": self.occurred_at.isoformat(),
                "value": self.value, kind: ident, "properties": self.properties}

    def row(self) -> dict[str, str]:
        """The event as a CSV row of EVENT_COLUMNS[source] (properties become columns)."""
        kind, ident = self.identifier
        return {"id": self.id, "type": self.type, "occurred_at": self.occurred_at.isoformat(),
                "value": self.value or "", kind: ident, **self.properties}


class Activity:
    """Event ids and the newsletter calendar shared by every customer of one run."""

    def __init__(self, *, seed: int, as_of: dt.datetime, ids: IdMaker) -> None:
        self.seed, self.as_of, self.ids, self.counter = seed, as_of, ids, 0
        self.start = as_of - HISTORY
        # A newsletter every two weeks, Tuesday 09:00 UTC, named after the season.
        first = self.start + dt.timedelta(days=(1 - self.start.weekday()) % 7)
        first = first.replace(hour=9, minute=0, second=0, microsecond=0)
        self.campaigns = [
            (sent, f"nl-{sent:%Y%m%d}-{MONTH_THEMES[sent.month - 1]}")
            for sent in (first + dt.timedelta(weeks=2 * n) for n in range(53))
            if sent < as_of
        ]

    def event_id(self) -> str:
        self.counter += 1
        return f"demo-{self.seed}-{self.counter:09d}"

    def window(self, since: dt.datetime) -> tuple[dt.datetime, int, dt.datetime]:
        """(first midnight, days to now, first instant) of a record's activity."""
        first = max(since, self.start).replace(microsecond=0)
        midnight = first.replace(hour=0, minute=0, second=0)
        return midnight, (self.as_of - midnight).days, first

    def moment(self, rng: random.Random, window: tuple[dt.datetime, int, dt.datetime]
               ) -> dt.datetime:
        """A time in the window, at a plausible hour of the day."""
        midnight, days, first = window
        moment = midnight + dt.timedelta(
            days=int(rng.random() * (days + 1)),
            seconds=_HOURS.pick(rng) * 3600 + int(rng.random() * 3600),
        )
        if moment > self.as_of:
            return self.as_of - dt.timedelta(seconds=60 + int(rng.random() * 36000))
        if moment < first:
            return first + dt.timedelta(seconds=60 + int(rng.random() * 36000))
        return moment

    def purchases(self, rec: DemoRecord, rng: random.Random, count: int) -> list[DemoEvent]:
        """Orders identified by the account id of the source (shop site or CRM tills)."""
        events, window = [], self.window(rec.since)
        for _ in range(count):
            category, log_median = _CATEGORIES.pick(rng)
            value = min(max(rng.lognormvariate(log_median, 0.6), 4.9), 3000.0)
            props = {"category": category, "order_id": self.ids.order(),
                     "items": str(_ITEMS.pick(rng))}
            if rec.source == "crm":
                props["store"] = rec.attributes["store"]
            events.append(DemoEvent(
                rec.source, self.event_id(), "purchase", self.moment(rng, window),
                ("external_id", rec.external_id), f"{value:.2f}", props,
            ))
        return events

    def page_views(self, rec: DemoRecord, rng: random.Random, count: int,
                   around: list[DemoEvent]) -> list[DemoEvent]:
        """Logged-in browsing, known by customer number (or email for accounts without one)."""
        ident = ("customer_id", rec.customer_id) if rec.customer_id else ("email", rec.email)
        events, window = [], self.window(rec.since)
        for _ in range(count):
            at = self.moment(rng, window)
            path = rng.choice(SHOP_PAGES)
            if rng.random() < 0.5:
                category, _ = rng.choice(_CATEGORIES.items)
                path = f"/produits/{category}/{rng.choice(PRODUCTS[category])}"
            events.append(DemoEvent("shop", self.event_id(), "page_view", at, ident,
                                    properties={"path": path}))
        # Most orders follow a look at the product page a few minutes before.
        for order in around:
            if rng.random() < 0.7:
                at = order.occurred_at - dt.timedelta(minutes=rng.randrange(2, 40))
                category = order.properties["category"]
                path = f"/produits/{category}/{rng.choice(PRODUCTS[category])}"
                events.append(DemoEvent("shop", self.event_id(), "page_view", at, ident,
                                        properties={"path": path}))
        return events

    def opens(self, rec: DemoRecord, person: Person, rng: random.Random,
              consent: ConsentHistory) -> list[DemoEvent]:
        """Newsletter opens while email marketing was allowed; a few clicks through."""
        if consent.email_from is None or rec.email is None:
            return []
        until = consent.email_until or self.as_of
        rate = min(0.9, rng.betavariate(1.3, 3.5) * person.engagement)
        events = []
        for sent, campaign in self.campaigns:
            if not consent.email_from <= sent < until or rng.random() >= rate:
                continue
            at = sent + dt.timedelta(minutes=int(rng.expovariate(1 / 300)))
            if at >= self.as_of:
                continue
            events.append(DemoEvent("newsletter", self.event_id(), "email_open", at,
                                    ("email", rec.email), properties={"campaign": campaign}))
            if rng.random() < 0.15 and at + dt.timedelta(minutes=1) <= self.as_of:
                events.append(DemoEvent(
                    "shop", self.event_id(), "page_view", at + dt.timedelta(minutes=1),
                    ("email", rec.email),
                    properties={"path": "/nouveautes", "utm_campaign": campaign},
                ))
        return events

    def for_record(self, rec: DemoRecord, person: Person, rng: random.Random,
                   consent: ConsentHistory) -> list[DemoEvent]:
        """Everything one record's source saw this person do."""
        scale = person.engagement
        if rec.source == "newsletter":
            return self.opens(rec, person, rng, consent)
        if rec.source == "crm":
            if rng.random() >= 0.4:
                return []
            return self.purchases(rec, rng, 1 + int(rng.gammavariate(1, 1.5 * scale)))
        guest = rec.attributes.get("account_type") == "invité"
        orders = self.purchases(rec, rng, 1 if guest else int(rng.gammavariate(1, 2.5 * scale)))
        if guest or rec.email is None:
            return orders
        views = self.page_views(rec, rng, int(rng.gammavariate(1, 5 * scale)), orders)
        return orders + views
