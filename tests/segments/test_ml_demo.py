"""The demo generator's planted signals (cdp/demo/planted.py): personas and intent, added
on top of an unchanged base stream."""

import datetime as dt
import re
from collections import Counter

from cdp.demo.generator import generate
from cdp.demo.planted import K_PLANTED, PERSONAS

AS_OF = dt.datetime(2025, 6, 30, tzinfo=dt.UTC)


def _run(count: int, seed: int = 7):
    return list(generate(customers=count, seed=seed, as_of=AS_OF))


def test_planted_events_have_ids_of_their_own_and_leave_the_base_stream_alone():
    customers = _run(300)
    base = [e for c in customers for e in c.events if "-p" not in e.id]
    planted = [e for c in customers for e in c.events if "-p" in e.id]
    # The base stream's counter runs without a gap: nothing was drawn from it for planting.
    numbers = sorted(int(e.id.rsplit("-", 1)[1]) for e in base)
    assert numbers == list(range(1, len(numbers) + 1))
    assert all(re.fullmatch(r"demo-7-p\d{9}", e.id) for e in planted)
    assert {e.type for e in planted} == {"purchase", "email_click"}
    orders = [e.properties["order_id"] for e in planted if e.type == "purchase"]
    assert len(set(orders)) == len(orders) and all(o.startswith("CMD-W") for o in orders)
    assert all(e.occurred_at < AS_OF for e in planted)


def test_personas_are_drawn_per_person_and_stay_with_the_seed():
    first, again = _run(200), _run(400)
    assert [c.persona for c in first] == [c.persona for c in again[:200]]
    counts = Counter(c.persona for c in again)
    assert len(counts) == K_PLANTED == len(PERSONAS)
    for persona in PERSONAS:
        assert abs(counts[persona.name] / 400 - persona.weight) < 0.08


def test_clicks_come_only_while_subscribed_and_mostly_before_purchases():
    customers = _run(400)
    clicks = purchases_after = 0
    for c in customers:
        planted = [e for e in c.events if "-p" in e.id]
        buys = sorted(e.occurred_at for e in planted if e.type == "purchase")
        for click in (e for e in planted if e.type == "email_click"):
            clicks += 1
            subscribed = any(
                x.purpose == "email_marketing" and x.status == "granted"
                and x.captured_at <= click.occurred_at for x in c.consents)
            assert subscribed
            purchases_after += any(
                click.occurred_at < b <= click.occurred_at + dt.timedelta(days=18) for b in buys)
    assert clicks > 200 and purchases_after / clicks > 0.6
