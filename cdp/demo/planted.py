"""Planted signals: what model-based segments (segments.ml) should find in the demo data.

The base stream (activity.py) draws each record's purchases at uniformly random times, so
the past tells the future only through a person's overall rate: a recency-only guess of
"buys in the next 30 days" scores a ROC AUC near 0.71, and there are no groups to find.
This module adds, on top of it, three documented signals:

1. Personas (the planted clusters, K_PLANTED of them). Every person gets one persona
   with its own purchase rate and basket size (PERSONAS). Its planted purchases land
   on one record of the person (the anchor: their shop account, else the CRM, else the
   newsletter address through a guest checkout), so among buyers the profiles form
   K_PLANTED groups in (purchases per year, average basket, days since last purchase).
2. Purchase intent: a newsletter click announces a purchase. Most planted purchases
   are preceded, 2 to 18 days before, by one or two `email_click` events of the same
   person (only while they are subscribed: inside an email_marketing grant of a record
   holding an email), and a few clicks lead nowhere. So `email_clicks_30d` at a cutoff
   tells who buys in the following weeks, which recency alone cannot.
3. Churn: a third of the people lapse at a random moment (possibly after as_of, i.e. not
   yet); their planted activity fades over the 90 days before and stops there.

Nothing in the base stream changes: these draws come from a random stream of their own,
seeded by (seed, person index), and the events carry ids of their own ("demo-<seed>-p..."
and order ids "CMD-W..."), so every record, consent and base event of a seed stays as it
was, and the first N customers of a larger run are still those of a smaller one.
"""

import datetime as dt
import random
from dataclasses import dataclass

from cdp.demo.activity import _CATEGORIES, HISTORY, DemoEvent
from cdp.demo.consents import ConsentHistory
from cdp.demo.people import Person, scramble
from cdp.demo.records import DemoRecord

DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Persona:
    name: str
    weight: float
    purchases_per_year: float
    basket_median: float


PERSONAS: tuple[Persona, ...] = (
    Persona("bargain-regulars", 0.35, 16.0, 18.0),
    Persona("premium-occasionals", 0.20, 3.0, 320.0),
    Persona("loyal-big-spenders", 0.25, 10.0, 110.0),
    Persona("occasionals", 0.20, 1.5, 40.0),
)
K_PLANTED = len(PERSONAS)
LAPSE_SHARE = 0.35
FADE = dt.timedelta(days=90)
FADE_FACTOR = 0.35
CLICK_BEFORE_PURCHASE = 0.7
IDLE_CLICKS_PER_YEAR = 2.0


class Planter:
    """Planted events of one run: ids and persona draws, independent of the base stream."""

    def __init__(self, *, seed: int, as_of: dt.datetime) -> None:
        self.seed, self.as_of, self.counter, self.orders = seed, as_of, 0, 0
        self.start = as_of - HISTORY

    def _event_id(self) -> str:
        self.counter += 1
        return f"demo-{self.seed}-p{self.counter:09d}"

    def _order_id(self) -> str:
        self.orders += 1
        return f"CMD-W{scramble(self.orders, 10**9, key=6):09d}"

    def persona(self, person: Person) -> Persona:
        rng = self._rng(person, "persona")
        pick = rng.random() * sum(p.weight for p in PERSONAS)
        for persona in PERSONAS:
            pick -= persona.weight
            if pick < 0:
                return persona
        return PERSONAS[-1]

    def _rng(self, person: Person, stream: str) -> random.Random:
        # A string seed is hashed with SHA-512: stable across processes and Python runs.
        return random.Random(f"{self.seed}:planted:{stream}:{person.index}")  # noqa: S311

    def events(self, person: Person, records: list[DemoRecord],
               histories: list[ConsentHistory]) -> tuple[Persona, list[DemoEvent]]:
        """The persona of the person and their planted purchases and clicks."""
        persona = self.persona(person)
        rng = self._rng(person, "events")
        anchor = _anchor(records)
        if anchor is None:
            return persona, []
        lapse = None
        if rng.random() < LAPSE_SHARE:
            lapse = self.start + dt.timedelta(days=rng.uniform(60, HISTORY.days + 365))
        first = max(anchor.since, self.start)
        times = _process(rng, first, self.as_of, persona.purchases_per_year, lapse)
        windows = _subscriptions(records, histories)
        events: list[DemoEvent] = []
        for at in times:
            events.append(self._purchase(anchor, persona, rng, at))
            if rng.random() < CLICK_BEFORE_PURCHASE:
                for _ in range(1 + (rng.random() < 0.4)):
                    clicked = at - dt.timedelta(days=rng.uniform(2, 18))
                    events.extend(self._click(windows, rng, clicked))
        for at in _process(rng, first, self.as_of, IDLE_CLICKS_PER_YEAR, lapse):
            events.extend(self._click(windows, rng, at))
        return persona, events

    def _purchase(self, anchor: DemoRecord, persona: Persona, rng: random.Random,
                  at: dt.datetime) -> DemoEvent:
        category, _ = _CATEGORIES.pick(rng)
        value = min(max(rng.lognormvariate(0, 0.35) * persona.basket_median, 4.9), 3000.0)
        props = {"category": category, "order_id": self._order_id(), "items": "1"}
        if anchor.source == "newsletter":  # a guest checkout with the newsletter address
            return DemoEvent("shop", self._event_id(), "purchase", at,
                             ("email", anchor.email or ""), f"{value:.2f}", props)
        if anchor.source == "crm":
            props["store"] = anchor.attributes["store"]
        return DemoEvent(anchor.source, self._event_id(), "purchase", at,
                         ("external_id", anchor.external_id), f"{value:.2f}", props)

    def _click(self, windows: list[tuple[str, dt.datetime, dt.datetime]],
               rng: random.Random, at: dt.datetime) -> list[DemoEvent]:
        """A click in a newsletter, if the person was subscribed then."""
        if not self.start <= at < self.as_of:
            return []
        at = at.replace(microsecond=0)
        for email, start, end in windows:
            if start <= at < end:
                return [DemoEvent("newsletter", self._event_id(), "email_click", at,
                                  ("email", email),
                                  properties={"campaign": f"nl-{at:%Y%m%d}-offre"})]
        return []


def _anchor(records: list[DemoRecord]) -> DemoRecord | None:
    """The record the planted purchases are bought through."""
    for source in ("shop", "crm", "newsletter"):
        for rec in records:
            guest = rec.attributes.get("account_type") == "invité"
            if rec.source == source and not guest and (source != "newsletter" or rec.email):
                return rec
    return None


def _subscriptions(records: list[DemoRecord], histories: list[ConsentHistory]
                   ) -> list[tuple[str, dt.datetime, dt.datetime]]:
    """(email, from, until) of each record's email_marketing grant."""
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    return [
        (rec.email, history.email_from, history.email_until or far)
        for rec, history in zip(records, histories, strict=True)
        if rec.email and history.email_from is not None
    ]


def _process(rng: random.Random, start: dt.datetime, end: dt.datetime, per_year: float,
             lapse: dt.datetime | None) -> list[dt.datetime]:
    """Times of a Poisson process of `per_year`, fading before a lapse and stopping there.

    Thinning: candidates at the full rate, each kept with the rate's share at its time.
    """
    if per_year <= 0 or start >= end:
        return []
    rate = per_year / 365.25
    times, at = [], start
    while True:
        at += dt.timedelta(days=rng.expovariate(rate))
        if at >= end or (lapse is not None and at >= lapse):
            return times
        keep = 1.0 if lapse is None or at < lapse - FADE else FADE_FACTOR
        if rng.random() < keep:
            times.append(at.replace(microsecond=0))
