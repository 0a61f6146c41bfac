"""Attribute and trait conditions as Q objects over Profile.

Attributes live on source records, several per profile: a profile matches when ANY of its
records matches (EXISTS over SourceRecord). So `is_not_set` means no record has the value
set, and `neq`/`not_in` mean some record has a set value that differs (a profile with
records in Paris and Lyon is both `eq Paris` and `neq Paris`).

Traits live in one ProfileTraits row per profile, which may be missing: counts and
amounts then read 0, dates and scores NULL. A NULL trait satisfies no comparison.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db.models import Exists, F, OuterRef, Q, Value
from django.db.models.fields.json import KeyTextTransform

from cdp.models import SourceRecord
from segments.models import ProfileTraits
from segments.rules.days import day_start, local_date, next_day_start
from segments.rules.values import compare_q, is_set_q, value_q
from segments.rules.vocabulary import Trait, attribute_key, parse_date, traits


def true_q() -> Q:
    """Everyone (as a Q that still combines with & and |, unlike an empty Q())."""
    return Q(Value(True))


def false_q() -> Q:
    """No one."""
    return Q(Value(False))


def attribute_q(node: dict[str, Any], *, now: dt.datetime) -> Q:
    """Some source record of the profile satisfies the attribute condition."""
    key = attribute_key(node["attribute"])
    text = F(node["attribute"]) if key is None else KeyTextTransform(key, "attributes")
    op = node["op"]
    records = SourceRecord.objects.filter(profile=OuterRef("pk"))
    if op == "is_not_set":
        return ~Q(Exists(records.filter(is_set_q(text))))
    return Q(Exists(records.filter(value_q(text, op, node.get("value"), now=now))))


def trait_q(node: dict[str, Any], *, now: dt.datetime) -> Q:
    """The profile's trait satisfies the condition; profiles without traits read defaults."""
    trait = traits()[node["trait"]]
    op, value = node["op"], node.get("value")
    rows = ProfileTraits.objects.filter(profile=OuterRef("pk"))
    column = F(trait.column)
    if op in ("is_set", "is_not_set"):
        is_set = (
            true_q() if trait.default is not None
            else Q(Exists(rows.filter(**{f"{trait.column}__isnull": False})))
        )
        return is_set if op == "is_set" else ~is_set
    if trait.kind == "number":
        found = Q(Exists(rows.filter(compare_q(column, op, value))))
        if _default_holds(trait, op, value):
            # No traits row reads as the default (0), which satisfies the comparison.
            return found | ~Q(Exists(rows))
        return found
    if trait.kind == "days":
        op, value = _days_to_dates(op, value, local_date(now))
    else:
        value = [parse_date(v) for v in value] if op == "between" else parse_date(value)
    return Q(Exists(rows.filter(local_day_q(trait.column, op, value))))


def _default_holds(trait: Trait, op: str, value: Any) -> bool:
    if trait.default is None:
        return False
    have = Decimal(trait.default)
    if op == "between":
        return Decimal(str(value[0])) <= have <= Decimal(str(value[1]))
    want = Decimal(str(value))
    return {
        "eq": have == want, "neq": have != want, "gt": have > want,
        "gte": have >= want, "lt": have < want, "lte": have <= want,
    }[op]


_MIRROR = {"eq": "eq", "neq": "neq", "gt": "lt", "gte": "lte", "lt": "gt", "lte": "gte"}


def _days_to_dates(op: str, value: Any, today: dt.date) -> tuple[str, Any]:
    """`days since X <op> n` as a condition on X's local date: more days = earlier date."""
    if op == "between":
        low, high = value
        return "between", [today - dt.timedelta(days=int(high)),
                           today - dt.timedelta(days=int(low))]
    return _MIRROR[op], today - dt.timedelta(days=int(value))


def local_day_q(column: str, op: str, value: Any) -> Q:
    """The local calendar date of a timestamp column compared with a date, as a range."""
    if op == "between":
        low, high = value
        return Q(**{f"{column}__gte": day_start(low), f"{column}__lt": next_day_start(high)})
    start, end = day_start(value), next_day_start(value)
    ranges = {
        "eq": Q(**{f"{column}__gte": start, f"{column}__lt": end}),
        "neq": Q(**{f"{column}__lt": start}) | Q(**{f"{column}__gte": end}),
        "gt": Q(**{f"{column}__gte": end}),
        "gte": Q(**{f"{column}__gte": start}),
        "lt": Q(**{f"{column}__lt": start}),
        "lte": Q(**{f"{column}__lt": end}),
    }
    return ranges[op]
