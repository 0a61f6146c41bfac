"""Event conditions: count, sum or average of a profile's events of a type, as a Q.

- count is a correlated COUNT subquery wrapped in COALESCE(…, 0), so a profile with no
  matching event has 0 and satisfies `count lt 3` or `count eq 0`.
- sum/avg of no events (or of events without a value) is NULL and satisfies nothing; the
  comparison sits in the HAVING clause of an EXISTS so that NOT over it stays two-valued.
- within_days N: occurred_at in [now - N×24h, now]. between [d1, d2]: from the start of
  d1 to the end of d2, local days (settings.TIME_ZONE). Neither: all events, any time.
- where filters read event properties with the conventions of segments.rules.values.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import (
    Avg,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce

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


def matching_events(node: dict[str, Any], *, now: dt.datetime) -> QuerySet[Event]:
    """The profile's events this condition looks at (correlated to the outer Profile)."""
    rows = Event.objects.filter(_window_q(node, now), profile=OuterRef("pk"), type=node["event"])
    for item in node.get("where", []):
        text = KeyTextTransform(item["property"], "properties")
        rows = rows.filter(value_q(text, item["op"], item["value"], now=now))
    return rows.order_by()


def event_q(node: dict[str, Any], *, now: dt.datetime) -> Q:
    """The aggregate of the matching events satisfies the comparator."""
    rows = matching_events(node, now=now).values("profile")
    if "count" in node:
        ((op, value),) = node["count"].items()
        counted = rows.annotate(n=Count("pk")).values("n")
        total = Coalesce(Subquery(counted, output_field=IntegerField()), 0)
        return compare_q(total, op, value)
    name = "sum" if "sum" in node else "avg"
    ((op, value),) = node[name].items()
    grouped = rows.annotate(agg=_AGGREGATES[name]("value"))
    return Q(Exists(grouped.filter(compare_q(F("agg"), op, value))))
