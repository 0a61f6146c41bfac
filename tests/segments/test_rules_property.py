"""Property: for random rule trees, the compiled SQL selects exactly the profiles that a
plain-Python evaluator (written here, independently of the compiler) selects.

The data set is small and deterministic: 30 profiles with records (a few cities, custom
attributes of mixed JSON types), ~200 events, consents, traits and segment memberships.
`now` is late December so anniversary windows wrap the year end.
"""

import datetime as dt
import random
import re
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings as django_settings
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdp.models import ConsentEntry, Event, Profile, Source, SourceRecord
from segments.models import ProfileTraits, Segment, SegmentMembership
from segments.rules import compile_definition, validate_definition

NOW = dt.datetime(2025, 12, 29, 20, 0, tzinfo=dt.UTC)  # 21:00 in Paris, 29 December

CITIES = ["Paris", "paris", "PARIS", "Lyon", "Lille", "", None]
COMPANIES = ["Acme", "ACME Corp", "Globex", "50% Off", None]
POSTCODES = ["75001", "69002", "59000", None]
REGIONS = ["IDF", "ARA", "", None]
COUNTRIES = ["FR", "fr", "BE", None]
CUSTOM = {
    "tier": ["gold", "Gold", "silver", "", None],
    "age": [42, "42", "17", "41.50", "forty", -3, None],
    "vip": [True, False, "true", "TRUE", "no"],
    "since": ["2019-12-30", "2024-02-29", "2025-12-25", "2025-12-29", "2025-12-31",
              "2026-01-02", "2023-06-15T10:00:00Z", "soon", ""],
}
EVENT_TYPES = ["purchase", "page_view", "email_open"]
CATEGORIES = ["shoes", "Shoes", "bags", "hats"]
PRICES = [12, "12.5", "59.90", "x", 100]
PURPOSES = ["email_marketing", "sms"]
STATUSES = ["granted", "denied", "withdrawn"]


# --- the data set -----------------------------------------------------------------------

@dataclass
class Person:
    pk: uuid.UUID
    records: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    consents: list[dict[str, Any]] = field(default_factory=list)  # in creation (id) order
    traits: dict[str, Any] | None = None
    segments: set[str] = field(default_factory=set)  # slugs and ids of open stays
    restricted: bool = False  # GDPR Art. 18: no consent condition holds


def _moment(rng: random.Random, back_days: int, ahead_days: int = 0) -> dt.datetime:
    minutes = rng.randint(-ahead_days * 1440, back_days * 1440)
    return NOW - dt.timedelta(minutes=minutes)


def _new_record(rng: random.Random) -> dict[str, Any]:
    attributes = {k: rng.choice(v) for k, v in CUSTOM.items() if rng.random() < 0.7}
    return {"city": rng.choice(CITIES), "company": rng.choice(COMPANIES),
            "postcode": rng.choice(POSTCODES), "region": rng.choice(REGIONS),
            "country": rng.choice(COUNTRIES), "attributes": attributes}


def _new_event(rng: random.Random) -> dict[str, Any]:
    properties = {}
    if rng.random() < 0.7:
        properties["category"] = rng.choice(CATEGORIES)
    if rng.random() < 0.7:
        properties["price"] = rng.choice(PRICES)
    value = None if rng.random() < 0.2 else Decimal(rng.randint(0, 5000)) / 100
    return {"type": rng.choice(EVENT_TYPES), "at": _moment(rng, 60, ahead_days=6),
            "value": value, "properties": properties}


def _new_traits(rng: random.Random) -> dict[str, Any]:
    return {
        "purchase_count_90d": rng.randint(0, 5),
        "revenue_total": Decimal(rng.randint(0, 50000)) / 100,
        "avg_basket": rng.choice([None, Decimal("20.50"), Decimal("99.99")]),
        "rfm_score": rng.choice([None, 1, 3, 5]),
        "last_purchase_at": rng.choice([None, _moment(rng, 40)]),
        "last_activity_at": rng.choice([None, _moment(rng, 10)]),
    }


def _new_consents(rng: random.Random) -> list[dict[str, Any]]:
    """Entries in creation order, with same-instant ties and entries not captured yet."""
    consents: list[dict[str, Any]] = []
    for _ in range(rng.choice([0, 0, 1, 2, 3])):
        last = consents[-1]["at"] if consents else None
        at = last if last and rng.random() < 0.3 else _moment(rng, 60)
        consents.append({"purpose": rng.choice(PURPOSES), "status": rng.choice(STATUSES),
                         "at": at})
    if consents and rng.random() < 0.4:
        latest = consents[-1]
        flipped = "granted" if latest["status"] != "granted" else "withdrawn"
        consents.append({"purpose": latest["purpose"], "status": flipped,
                         "at": NOW + dt.timedelta(hours=rng.randint(1, 48))})
    return consents


def _people(rng: random.Random) -> list[Person]:
    people = []
    for index in range(30):
        person = Person(uuid.UUID(int=rng.getrandbits(128)))
        person.records = [_new_record(rng) for _ in range(rng.choice([0, 1, 1, 1, 2, 2, 3]))]
        if index % 6:  # every sixth profile has no events at all
            person.events = [_new_event(rng) for _ in range(rng.randint(0, 13))]
        person.consents = _new_consents(rng)
        if rng.random() < 0.7:
            person.traits = _new_traits(rng)
        people.append(person)
    _add_expiry_and_restriction(people, random.Random(rng.random()))
    return people


def _add_expiry_and_restriction(people: list[Person], rng: random.Random) -> None:
    """Same-instant entries of one purpose created in any status order (the tie rule),
    expiring grants (expired, expiring exactly at NOW, not yet) and restricted profiles;
    drawn from their own generator so the rest of the data set stays as it was."""
    for index, person in enumerate(people):
        person.restricted = index % 7 == 3
        past = [c for c in person.consents if c["at"] <= NOW]
        if past and rng.random() < 0.7:
            tied = rng.choice(past)
            person.consents.append({"purpose": tied["purpose"], "at": tied["at"],
                                    "status": rng.choice(STATUSES)})
        for consent in person.consents:
            if rng.random() < 0.3:
                consent["expires"] = NOW + dt.timedelta(hours=rng.choice([-30, -1, 0, 0, 2, 90]))
        if index % 5 == 1:  # a fresh grant expiring exactly now, or a second later
            person.consents.append({
                "purpose": "email_marketing", "status": "granted",
                "at": NOW - dt.timedelta(minutes=1),
                "expires": NOW + dt.timedelta(seconds=index % 2)})


def _store(people: list[Person]) -> dict[str, Segment]:
    source = Source.objects.create(name="crm")
    Profile.objects.bulk_create([
        Profile(pk=p.pk, restricted_at=NOW - dt.timedelta(days=1) if p.restricted else None)
        for p in people
    ])
    serial = iter(range(10**6))
    SourceRecord.objects.bulk_create([
        SourceRecord(source=source, external_id=f"r{next(serial)}", profile_id=p.pk,
                     received_at=NOW, updated_at=NOW, **record)
        for p in people for record in p.records
    ])
    Event.objects.bulk_create([
        Event(source=source, event_id=f"e{next(serial)}", profile_id=p.pk, type=e["type"],
              occurred_at=e["at"], value=e["value"], properties=e["properties"],
              received_at=NOW)
        for p in people for e in p.events
    ])
    for p in people:  # one by one: ids must follow the order of the list
        for c in p.consents:
            ConsentEntry.objects.create(profile_id=p.pk, purpose=c["purpose"],
                                        status=c["status"], captured_at=c["at"],
                                        expires_at=c.get("expires"))
        if p.traits is not None:
            ProfileTraits.objects.create(profile_id=p.pk, computed_at=NOW, **p.traits)
    segments = {slug: Segment.objects.create(name=slug, slug=slug, definition={"all": []})
                for slug in ("vip", "lapsed")}
    for index, p in enumerate(people):
        for offset, (slug, segment) in enumerate(segments.items()):
            state = (index + offset) % 3  # 0: never, 1: inside, 2: left
            if state:
                SegmentMembership.objects.create(
                    segment=segment, profile_id=p.pk, entered_at=NOW - dt.timedelta(days=9),
                    exited_at=None if state == 1 else NOW - dt.timedelta(days=2))
            if state == 1:
                p.segments |= {slug, str(segment.pk)}
    return segments


# --- the independent evaluator ------------------------------------------------------------

NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
ISO_DAY = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])")
COUNT_TRAITS = {"purchase_count_90d": 0, "revenue_total": 0}
DATE_TRAITS = {"last_purchase_at", "last_activity_at"}
DAYS_TRAITS = {"days_since_last_purchase": "last_purchase_at",
               "days_since_last_activity": "last_activity_at"}


def _local(moment: dt.datetime) -> dt.date:
    return moment.astimezone(ZoneInfo(django_settings.TIME_ZONE)).date()


def _today() -> dt.date:
    return _local(NOW)


def _text(value: Any) -> str | None:
    """What PostgreSQL's ->> gives for a JSON value (or a text column's value)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _num(text: str | None) -> Decimal | None:
    return Decimal(text) if text is not None and NUMBER.fullmatch(text) else None


def _cmp(have: Any, op: str, want: Any) -> bool:
    if op == "between":
        return want[0] <= have <= want[1]
    return {"eq": have == want, "neq": have != want, "gt": have > want, "gte": have >= want,
            "lt": have < want, "lte": have <= want}[op]


def _dec(value: Any) -> Any:
    return [Decimal(str(v)) for v in value] if isinstance(value, list) else Decimal(str(value))


def _equal(text: str | None, value: Any) -> bool:
    if text is None:
        return False
    if isinstance(value, bool):
        return text.upper() == ("TRUE" if value else "FALSE")
    if isinstance(value, int | float):
        return _num(text) is not None and _num(text) == Decimal(str(value))
    return text.upper() == value.upper()


def _is_set(text: str | None) -> bool:
    return text is not None and text != ""


def _anniversary_days(days: int) -> set[str]:
    month_days = {(_today() + dt.timedelta(days=i)).strftime("%m-%d") for i in range(days + 1)}
    if {"02-28", "03-01"} <= month_days:
        month_days.add("02-29")
    return month_days


def _date_match(text: str | None, op: str, value: Any) -> bool:
    if text is None or not ISO_DAY.match(text):
        return False
    day = dt.date.fromisoformat(text[:10])
    if op == "before":
        return day < dt.date.fromisoformat(value)
    if op == "after":
        return day > dt.date.fromisoformat(value)
    if op == "within_last":
        return _today() - dt.timedelta(days=value) <= day <= _today()
    return text[5:10] in _anniversary_days(value)


def _value_match(text: str | None, op: str, value: Any) -> bool:
    if op == "is_set":
        return _is_set(text)
    if op == "eq":
        return _equal(text, value)
    if op == "neq":
        return _is_set(text) and not _equal(text, value)
    if op == "in":
        return any(_equal(text, v) for v in value)
    if op == "not_in":
        return _is_set(text) and not any(_equal(text, v) for v in value)
    if op == "contains":
        return text is not None and value.upper() in text.upper()
    if op == "starts_with":
        return text is not None and text.upper().startswith(value.upper())
    if op in ("gt", "gte", "lt", "lte", "between"):
        return _num(text) is not None and _cmp(_num(text), op, _dec(value))
    return _date_match(text, op, value)


def _attribute(node: dict, person: Person) -> bool:
    name = node["attribute"]
    if name.startswith("attributes."):
        texts = [_text(r["attributes"].get(name[11:])) for r in person.records]
    else:
        texts = [r[name] for r in person.records]
    if node["op"] == "is_not_set":
        return not any(_is_set(t) for t in texts)
    return any(_value_match(t, node["op"], node.get("value")) for t in texts)


def _trait(node: dict, person: Person) -> bool:
    name, op, value = node["trait"], node["op"], node.get("value")
    row = person.traits or {}
    if name in DAYS_TRAITS:
        moment = row.get(DAYS_TRAITS[name])
        have = None if moment is None else (_today() - _local(moment)).days
        want = value
    elif name in DATE_TRAITS:
        moment = row.get(name)
        have = None if moment is None else _local(moment)
        want = ([dt.date.fromisoformat(v) for v in value] if op == "between"
                else None if value is None else dt.date.fromisoformat(value))
    else:
        have = row.get(name, COUNT_TRAITS.get(name))
        have = None if have is None else Decimal(have)
        want = None if value is None else _dec(value)
    if op in ("is_set", "is_not_set"):
        return (have is not None) == (op == "is_set")
    return have is not None and _cmp(have, op, want)


def _event(node: dict, person: Person) -> bool:
    def in_window(at: dt.datetime) -> bool:
        if "within_days" in node:
            return NOW - dt.timedelta(days=node["within_days"]) <= at <= NOW
        if "between" in node:
            first, last = (dt.date.fromisoformat(d) for d in node["between"])
            return first <= _local(at) <= last
        return True

    chosen = [
        e for e in person.events
        if e["type"] == node["event"] and in_window(e["at"])
        and all(_value_match(_text(e["properties"].get(f["property"])), f["op"], f["value"])
                for f in node.get("where", []))
    ]
    name = next(k for k in ("count", "sum", "avg") if k in node)
    ((op, want),) = node[name].items()
    values = [e["value"] for e in chosen if e["value"] is not None]
    if name == "count":
        have: Decimal | None = Decimal(len(chosen))
    elif not values:
        have = None
    else:
        have = sum(values) / (len(values) if name == "avg" else 1)
    return have is not None and _cmp(have, op, _dec(want))


STATUS_RANK = {"granted": 0, "denied": 1, "withdrawn": 2}  # higher wins a tie


def _consent(purpose: str, person: Person) -> bool:
    known = [(c["at"], STATUS_RANK[c["status"]], index) for index, c in enumerate(person.consents)
             if c["purpose"] == purpose and c["at"] <= NOW]
    if person.restricted or not known:
        return False
    latest = person.consents[max(known)[2]]
    expires = latest.get("expires")
    return latest["status"] == "granted" and (expires is None or expires > NOW)


def evaluate(node: dict, person: Person) -> bool:
    if "all" in node:
        return all(evaluate(child, person) for child in node["all"])
    if "any" in node:
        return any(evaluate(child, person) for child in node["any"])
    if "not" in node:
        return not evaluate(node["not"], person)
    if "attribute" in node:
        return _attribute(node, person)
    if "trait" in node:
        return _trait(node, person)
    if "event" in node:
        return _event(node, person)
    if "consent" in node:
        return _consent(node["consent"], person)
    return str(node["segment"]) in person.segments


# --- random rule trees over the data's vocabulary ------------------------------------------

# Values are drawn from what the data holds (in other cases) plus a miss, so that most
# conditions select some profiles but not all.
FIELD_WORDS = {
    "city": ["paris", "PARIS", "Lyon", "lille", "zzz"],
    "company": ["acme", "ACME corp", "globex", "50% OFF", "zzz"],
    "postcode": ["75001", "69002", "zzz"],
    "region": ["idf", "ARA", "zzz"],
    "country": ["fr", "BE", "zzz"],
}
FRAGMENTS = {
    "city": ["par", "LY", "i", "zz"], "company": ["AC", "corp", "%", "_", "glo"],
    "postcode": ["75", "0", "9"], "region": ["id", "A"], "country": ["f", "B"],
    "tier": ["ol", "G"], "age": ["4", "ty"], "since": ["20", "-12-"], "vip": ["TR", "n"],
    "missing": ["x"],
}
KEY_VALUES: dict[str, list] = {
    "tier": ["gold", "GOLD", "silver", "x"],
    "age": [42, "42", 41.5, 17, -3, "forty", 0],
    "vip": [True, False, "true", "no"],
    "since": ["soon", "2019-12-30", "2025-12-29", 2025],
    "missing": ["x", 1],
}
KEY_OPS = {
    "tier": ["eq", "neq", "in", "not_in", "contains", "starts_with", "is_set", "is_not_set",
             "gt"],
    "age": ["eq", "neq", "in", "not_in", "contains", "gt", "gte", "lt", "lte", "between",
            "is_set", "is_not_set"],
    "vip": ["eq", "neq", "in", "not_in", "is_set", "is_not_set"],
    "since": ["eq", "contains", "starts_with", "before", "after", "within_last",
              "anniversary_within", "between", "is_set"],
    "missing": ["eq", "neq", "is_set", "is_not_set", "gt"],
}
NUMBERS = st.sampled_from([-3, 0, 1, 2, 2.5, 3, 12, 12.5, 17, 41.5, 42, 59.9, 100])
AMOUNTS = st.sampled_from([0, 5, 10, 25.5, 50, 100, 150.25, 300])
RECENT_DATES = ["2025-11-15", "2025-12-01", "2025-12-20", "2025-12-28", "2025-12-29",
                "2025-12-30", "2026-01-02"]
DATES = st.sampled_from(["2019-12-30", "2024-02-29", *RECENT_DATES])
PROPERTY_VALUES = st.sampled_from(["shoes", "SHOES", "bags", "x", 12, "12.5", 12.5, 59.9,
                                   100, True])


def _pair(values: st.SearchStrategy) -> st.SearchStrategy:
    return st.tuples(values, values).map(sorted).map(list)


@st.composite
def attribute_conditions(draw) -> dict:
    name = draw(st.sampled_from([*FIELD_WORDS, *(f"attributes.{k}" for k in KEY_OPS)]))
    key = name[11:] if name.startswith("attributes.") else None
    if key is None:
        ops = ["eq", "neq", "in", "not_in", "contains", "starts_with", "is_set", "is_not_set"]
        scalar = st.sampled_from(FIELD_WORDS[name])
    else:
        ops, scalar = KEY_OPS[key], st.sampled_from(KEY_VALUES[key])
    op = draw(st.sampled_from(ops))
    value = {
        "eq": scalar, "neq": scalar,
        "in": st.lists(scalar, min_size=1, max_size=3),
        "not_in": st.lists(scalar, min_size=1, max_size=3),
        "contains": st.sampled_from(FRAGMENTS[key or name]),
        "starts_with": st.sampled_from(FRAGMENTS[key or name]),
        "between": _pair(NUMBERS), "before": DATES, "after": DATES,
        "within_last": st.sampled_from([1, 3, 7, 400, 3000]),
        "anniversary_within": st.sampled_from([1, 2, 3, 5, 40, 364, 365, 400]),
    }.get(op, NUMBERS)
    node = {"attribute": name, "op": op}
    if op not in ("is_set", "is_not_set"):
        node["value"] = draw(value)
    return node


@st.composite
def trait_conditions(draw) -> dict:
    name = draw(st.sampled_from(["purchase_count_90d", "revenue_total", "avg_basket",
                                 "rfm_score", "last_purchase_at", "last_activity_at",
                                 "days_since_last_purchase", "days_since_last_activity"]))
    op = draw(st.sampled_from(["eq", "neq", "gt", "gte", "lt", "lte", "between", "is_set",
                               "is_not_set"]))
    if name in DATE_TRAITS:
        values = DATES
    elif name in DAYS_TRAITS:
        values = st.sampled_from([0, 1, 2, 7, 30])
    elif name == "revenue_total":
        values = AMOUNTS
    else:
        values = NUMBERS
    node = {"trait": name, "op": op}
    if op == "between":
        node["value"] = draw(_pair(values))
    elif op not in ("is_set", "is_not_set"):
        node["value"] = draw(values)
    return node


@st.composite
def property_filters(draw) -> dict:
    op = draw(st.sampled_from(["eq", "neq", "in", "contains", "gt", "gte", "lt", "lte"]))
    value = {"eq": PROPERTY_VALUES, "neq": PROPERTY_VALUES,
             "in": st.lists(PROPERTY_VALUES, min_size=1, max_size=3),
             "contains": st.sampled_from(["o", "SH", "ag", "5"])}.get(op, NUMBERS)
    return {"property": draw(st.sampled_from(["category", "price", "category", "missing"])),
            "op": op, "value": draw(value)}


@st.composite
def event_conditions(draw) -> dict:
    name = draw(st.sampled_from(["count", "sum", "avg"]))
    op = draw(st.sampled_from(["eq", "neq", "gt", "gte", "lt", "lte", "between"]))
    values = st.sampled_from([0, 1, 2, 3, 5]) if name == "count" else AMOUNTS
    node = {"event": draw(st.sampled_from(EVENT_TYPES)),
            name: {op: draw(_pair(values) if op == "between" else values)}}
    where = draw(st.lists(property_filters(), max_size=2).filter(lambda w: len(w) < 2)
                 | st.lists(property_filters(), max_size=2))
    if where:
        node["where"] = where
    window = draw(st.sampled_from(["all time", "within_days", "between"]))
    if window == "within_days":
        node["within_days"] = draw(st.sampled_from([1, 7, 30, 90]))
    elif window == "between":
        node["between"] = draw(_pair(st.sampled_from(RECENT_DATES)))
    return node


def rule_trees(segment_refs: list[str | int], depth: int = 3) -> st.SearchStrategy:
    leaves = st.one_of(
        attribute_conditions(), trait_conditions(), event_conditions(),
        st.sampled_from(PURPOSES).map(lambda p: {"consent": p}),
        st.sampled_from(segment_refs).map(lambda s: {"segment": s}),
    )
    if depth == 0:
        return leaves
    children = rule_trees(segment_refs, depth - 1)
    return st.one_of(
        leaves,
        st.lists(children, max_size=3).map(lambda xs: {"all": xs}),
        st.lists(children, max_size=3).map(lambda xs: {"any": xs}),
        children.map(lambda x: {"not": x}),
    )


# --- the property --------------------------------------------------------------------------

def _resolve(ref: str) -> Segment | None:
    return Segment.objects.filter(**({"pk": ref} if ref.isdigit() else {"slug": ref})).first()


@pytest.mark.django_db
def test_compiled_members_equal_python_evaluated_members():
    """For ~150 random rule trees (depth <= 3) over the data's words, SQL == Python."""
    people = _people(random.Random(20251229))
    segments = _store(people)
    refs = ["vip", "lapsed", "gone", segments["vip"].pk, str(segments["lapsed"].pk)]

    @settings(max_examples=150, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(rule_trees(refs))
    def compiled_equals_evaluated(definition):
        errors = validate_definition(definition, resolve_segment=_resolve)
        assert all(e.message == "unknown segment 'gone'" for e in errors), errors
        expected = {p.pk for p in people if evaluate(definition, p)}
        # A savepoint per example, so one failing query does not abort the whole test.
        with transaction.atomic(), CaptureQueriesContext(connection) as queries:
            q = compile_definition(definition, now=NOW)
            members = set(Profile.objects.filter(q).values_list("pk", flat=True))
        assert members == expected, definition
        assert len([s for s in queries.captured_queries if "SAVEPOINT" not in s["sql"]]) == 1

    compiled_equals_evaluated()


def test_data_set_covers_the_interesting_cases():
    """Guard against a seed change quietly removing the cases the property relies on."""
    people = _people(random.Random(20251229))
    assert sum(1 for p in people if not p.events) >= 5
    assert sum(1 for p in people if not p.records) >= 1
    assert sum(1 for p in people if p.traits is None) >= 3
    assert 150 <= sum(len(p.events) for p in people) <= 250
    assert sum(1 for p in people for e in p.events if e["at"] > NOW) >= 5
    assert sum(1 for p in people for c in p.consents if c["at"] > NOW) >= 3
    assert any(len(p.records) > 1 for p in people)
    ties = [p for p in people if len({c["at"] for c in p.consents}) < len(p.consents)]
    assert ties
    assert 2 <= sum(p.restricted for p in people) <= 10
    assert any(p.restricted and p.consents for p in people)
    expiring = [c["expires"] for p in people for c in p.consents if c.get("expires")]
    assert {e < NOW for e in expiring} == {True, False} and NOW in expiring
    # Ties the status rank decides differently from creation order.
    decisive = 0
    for p in people:
        for purpose in PURPOSES:
            known = [(c["at"], STATUS_RANK[c["status"]], i) for i, c in enumerate(p.consents)
                     if c["purpose"] == purpose and c["at"] <= NOW]
            if known:
                by_id = max(known, key=lambda k: (k[0], k[2]))
                decisive += p.consents[max(known)[2]]["status"] != p.consents[by_id[2]]["status"]
    assert decisive >= 3
