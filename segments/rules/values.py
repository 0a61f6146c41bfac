"""Predicates on one value seen as text: a record field, a custom attribute, an event property.

Conventions (the Python evaluator in tests/segments/test_rules_property.py mirrors them):
- The text form is compared: the column itself, or `->>` of a JSON key (so a CSV import's
  "42" and an API's 42 behave alike). A value is *set* when it is neither missing, JSON
  null, nor the empty string.
- Text comparisons (eq, in, contains, starts_with with string values) ignore case: they
  compile to UPPER(...) = UPPER(...), LIKE UPPER(...) (Django's iexact/icontains/istartswith).
- Number comparisons (eq/in with numbers, gt, gte, lt, lte, between) apply to values whose
  text is a plain decimal (-12, 3.50); anything else never matches them. A boolean value
  matches the text "true"/"false" in any case.
- Date operators read the first ten characters of values starting with an ISO date
  (YYYY-MM-DD...), as written, with no time zone conversion.
- neq and not_in need the value to be set: "a value different from x". A missing value is
  neither equal nor different.
Every predicate here is two-valued (never SQL NULL) once the value is set, so NOT over it
means what it says.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import reduce
from operator import or_
from typing import Any

from django.db.models import DecimalField, Expression, Func, Q, Value
from django.db.models.expressions import Case, When
from django.db.models.functions import Substr
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    IContains,
    IExact,
    IsNull,
    IStartsWith,
    LessThan,
    LessThanOrEqual,
    Regex,
)

from segments.rules.days import local_date
from segments.rules.vocabulary import ISO_DATE_PREFIX_RE, NUMBER_RE, is_number

ORDER_LOOKUPS = {
    "gt": GreaterThan,
    "gte": GreaterThanOrEqual,
    "lt": LessThan,
    "lte": LessThanOrEqual,
}


def number(value: Any) -> Value:
    """A rule's number as an SQL numeric, exactly (not rounded to the column's type)."""
    return Value(Decimal(str(value)), output_field=DecimalField())


def compare_q(lhs: Any, op: str, value: Any) -> Q:
    """lhs <op> value for the comparator ops (eq, neq, gt, gte, lt, lte, between)."""
    if op == "between":
        return Q(GreaterThanOrEqual(lhs, number(value[0]))) & Q(
            LessThanOrEqual(lhs, number(value[1]))
        )
    if op == "eq":
        return Q(Exact(lhs, number(value)))
    if op == "neq":
        return ~Q(Exact(lhs, number(value)))
    return Q(ORDER_LOOKUPS[op](lhs, number(value)))


def is_set_q(text: Any) -> Q:
    return Q(IsNull(text, False)) & ~Q(Exact(text, ""))


class _Bytewise(Func):
    """Compare text byte by byte (collation "C") whatever the database's locale."""

    template = '%(expressions)s COLLATE "C"'

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # SQLite (the demo database) compares bytewise already (BINARY).
        return super().as_sql(compiler, connection, template="%(expressions)s", **extra)


def _numeric(text: Any) -> Expression:
    """The text as numeric when it is a plain decimal, else NULL (CASE keeps casts safe)."""
    cast = Func(text, template="CAST(%(expressions)s AS numeric)", output_field=DecimalField())
    return Case(When(Regex(text, NUMBER_RE), then=cast), output_field=DecimalField())


def _numeric_q(text: Any, op: str, value: Any) -> Q:
    # The regex test first makes the result FALSE (not NULL) for non-numeric text.
    return Q(Regex(text, NUMBER_RE)) & compare_q(_numeric(text), op, value)


def equals_q(text: Any, value: Any) -> Q:
    """Equality by the value's JSON type: text ignoring case, numbers numerically."""
    if isinstance(value, bool):
        return Q(IExact(text, "true" if value else "false"))
    if is_number(value):
        return _numeric_q(text, "eq", value)
    return Q(IExact(text, value))


def _iso_day(text: Any) -> Expression:
    return _Bytewise(Substr(text, 1, 10))


def _month_day(text: Any) -> Expression:
    return _Bytewise(Substr(text, 6, 5))


def _anniversary_q(text: Any, days: int, now: dt.datetime) -> Q:
    """Month and day of the date fall within [today, today + days] (wrapping at year end).

    February 29 counts as the day between February 28 and March 1.
    """
    has_date = Q(Regex(text, ISO_DATE_PREFIX_RE))
    if days >= 365:
        return has_date
    today = local_date(now)
    last = today + dt.timedelta(days=days)
    start, end = today.strftime("%m-%d"), last.strftime("%m-%d")
    after_start = Q(GreaterThanOrEqual(_month_day(text), start))
    before_end = Q(LessThanOrEqual(_month_day(text), end))
    if last.year == today.year:
        return has_date & after_start & before_end
    return has_date & (after_start | before_end)


def date_q(text: Any, op: str, value: Any, now: dt.datetime) -> Q:
    """before/after a date (strict); within_last N: from today - N days to today (local
    dates); anniversary_within N: see _anniversary_q."""
    has_date = Q(Regex(text, ISO_DATE_PREFIX_RE))
    if op == "before":
        return has_date & Q(LessThan(_iso_day(text), value))
    if op == "after":
        return has_date & Q(GreaterThan(_iso_day(text), value))
    if op == "within_last":
        today = local_date(now)
        first = (today - dt.timedelta(days=value)).isoformat()
        return (
            has_date
            & Q(GreaterThanOrEqual(_iso_day(text), first))
            & Q(LessThanOrEqual(_iso_day(text), today.isoformat()))
        )
    return _anniversary_q(text, int(value), now)


def value_q(text: Any, op: str, value: Any, *, now: dt.datetime) -> Q:
    """Whether one value (as text) satisfies op/value; a Q over the row holding it.

    is_not_set is not a row predicate ("no row has it set"): callers negate is_set_q.
    """
    if op == "is_set":
        return is_set_q(text)
    if op == "eq":
        return equals_q(text, value)
    if op == "neq":
        return is_set_q(text) & ~equals_q(text, value)
    if op == "in":
        return reduce(or_, (equals_q(text, item) for item in value))
    if op == "not_in":
        return is_set_q(text) & ~reduce(or_, (equals_q(text, item) for item in value))
    if op == "contains":
        return Q(IContains(text, value))
    if op == "starts_with":
        return Q(IStartsWith(text, value))
    if op in ("gt", "gte", "lt", "lte", "between"):
        return _numeric_q(text, op, value)
    return date_q(text, op, value, now)
