"""Event conditions: count, sum or average of a profile's events of a type, as a Q.

- Events are grouped once per condition, not per profile: the Q is `pk IN (SELECT
  profile_id ... GROUP BY profile_id HAVING <aggregate> <op> <value>)`, which PostgreSQL
  runs as one hash join (a correlated subquery would run once per profile).
- count: a profile with no matching event counts 0. When 0 satisfies the comparator
  (`count lt 3`, `count eq 0`), the Q is instead `pk NOT IN (profiles whose count fails
  it)`, so profiles without events match.
- sum/avg of no events (or of events without a value) is NULL and satisfies nothing.
  Both forms are two-valued (profile ids are never NULL), so NOT means what it says.
- within_days N: occurred_at in [now - N×24h, now]. between [d1, d2]: from the start of
  d1 to the end of d2, local days (settings.TIME_ZONE). Neither: all events, any time.
- where filters read event properties with the conventions of segments.rules.values.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db.models import (
    Avg,
    Count,
    F,
    OuterRef,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.fields.json import KeyTextTransform

from cdp.models import Event
from segments.rules.days import day_start, next_day_start
from segments.rules.values import compare_q, value_q
from segments.rules.vocabulary import parse_date

_AGGREGATES = {"sum": Sum, "avg": Avg}


def _window_q(node: dict[str, Any], now: dt.datetime) -> Q:
    if "within_days" in node:
        since = now - dt.timedelta(days=node["within_days"])
        return Q(occurred_at__gte=since, occurred_at__lte=now)
    if "between" in node:
        first, last = (parse_date(v) for v in node["between"])
        return Q(occurred_at__gte=day_start(first), occurred_at__lt=next_day_start(last))
    return Q()


def _events(node: dict[str, Any], now: dt.datetime) -> QuerySet[Event]:
    """Every profile's events this condition looks at."""
    rows = Event.objects.filter(_window_q(node, now), type=node["event"])
    for item in node.get("where", []):
        text = KeyTextTransform(item["property"], "properties")
        rows = rows.filter(value_q(text, item["op"], item["value"], now=now))
    return rows.order_by()


def matching_events(node: dict[str, Any], *, now: dt.datetime) -> QuerySet[Event]:
    """One profile's events this condition looks at (correlated to the outer Profile)."""
    return _events(node, now).filter(profile=OuterRef("pk"))


def _zero_holds(op: str, value: Any) -> bool:
    """Does a count of 0 satisfy the comparator?"""
    zero = Decimal(0)
    if op == "between":
        return Decimal(str(value[0])) <= zero <= Decimal(str(value[1]))
    bound = Decimal(str(value))
    return {"eq": zero == bound, "neq": zero != bound, "gt": zero > bound,
            "gte": zero >= bound, "lt": zero < bound, "lte": zero <= bound}[op]


def event_q(node: dict[str, Any], *, now: dt.datetime) -> Q:
    """The aggregate of the matching events satisfies the comparator."""
    per_profile = _events(node, now).values("profile_id")
    if "count" in node:
        ((op, value),) = node["count"].items()
        # count(*), not count(id): answerable from the covering (type, occurred_at) index.
        counted = per_profile.annotate(n=Count("*"))
        if _zero_holds(op, value):
            failing = counted.filter(~compare_q(F("n"), op, value)).values("profile_id")
            return ~Q(pk__in=failing)
        return Q(pk__in=counted.filter(compare_q(F("n"), op, value)).values("profile_id"))
    name = "sum" if "sum" in node else "avg"
    ((op, value),) = node[name].items()
    grouped = per_profile.annotate(agg=_AGGREGATES[name]("value"))
    return Q(pk__in=grouped.filter(compare_q(F("agg"), op, value)).values("profile_id"))
