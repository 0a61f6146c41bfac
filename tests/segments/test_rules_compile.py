"""compile_definition: each condition kind on a small fixture, in one SQL query."""

import datetime as dt
from decimal import Decimal
from itertools import count

import pytest
from django.db.models import Q

from cdp.models import ConsentEntry, Event, Profile, Source, SourceRecord
from segments.consent import consent_granted_q
from segments.models import ProfileTraits, Segment, SegmentMembership
from segments.rules import compile_definition

# 12:00 in Paris; the local day is 2026-06-15.
NOW = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)
_ids = count()


@pytest.fixture
def crm(db) -> Source:
    return Source.objects.create(name="crm", kind=Source.Kind.CRM)


def _profile(source, *records, events=(), consents=(), traits=None):
    """A profile with records (dicts of fields; "attributes" for custom ones) and more."""
    profile = Profile.objects.create()
    for fields in records or ({},):
        SourceRecord.objects.create(source=source, external_id=f"r{next(_ids)}",
                                    profile=profile, received_at=NOW, updated_at=NOW, **fields)
    for kind, at, value, properties in events:
        Event.objects.create(source=source, event_id=f"e{next(_ids)}", profile=profile,
                             type=kind, occurred_at=at, value=value,
                             properties=properties or {}, received_at=NOW)
    for purpose, status, at in consents:
        ConsentEntry.objects.create(profile=profile, purpose=purpose, status=status,
                                    captured_at=at)
    if traits is not None:
        ProfileTraits.objects.create(profile=profile, computed_at=NOW, **traits)
    return profile


def _members(definition, now=NOW):
    q = compile_definition(definition, now=now)
    return set(Profile.objects.filter(q).values_list("pk", flat=True))


def _ago(days=0, hours=0):
    return NOW - dt.timedelta(days=days, hours=hours)


@pytest.fixture
def cities(crm):
    return {
        "paris": _profile(crm, {"city": "Paris", "company": "ACME Corp"}),
        "shouting": _profile(crm, {"city": "PARIS", "company": "50% Off Ltd"}),
        "lyon": _profile(crm, {"city": "Lyon", "region": ""}),
        "both": _profile(crm, {"city": "Paris"}, {"city": "Lyon", "region": "Rhône"}),
        "nowhere": _profile(crm, {"city": None}),
    }


def _ids_of(people, *names):
    return {people[n].pk for n in names}


@pytest.mark.parametrize(("definition", "expected"), [
    ({"attribute": "city", "op": "eq", "value": "paris"}, ["paris", "shouting", "both"]),
    ({"attribute": "city", "op": "in", "value": ["PARIS", "lyon"]},
     ["paris", "shouting", "lyon", "both"]),
    ({"attribute": "city", "op": "neq", "value": "Paris"}, ["lyon", "both"]),
    ({"attribute": "city", "op": "not_in", "value": ["lyon"]}, ["paris", "shouting", "both"]),
    ({"attribute": "company", "op": "contains", "value": "corp"}, ["paris"]),
    ({"attribute": "company", "op": "contains", "value": "50%"}, ["shouting"]),
    ({"attribute": "company", "op": "contains", "value": "5_%"}, []),
    ({"attribute": "company", "op": "starts_with", "value": "acme"}, ["paris"]),
    ({"attribute": "region", "op": "is_set"}, ["both"]),
    ({"attribute": "region", "op": "is_not_set"}, ["paris", "shouting", "lyon", "nowhere"]),
    ({"attribute": "city", "op": "is_not_set"}, ["nowhere"]),
])
def test_record_fields_ignore_case_and_match_on_any_record(cities, definition, expected):
    """Text fields compare case-insensitively; any record of the profile may match;
    neq/not_in need a set value; is_not_set means no record has it ("" is not set);
    LIKE wildcards in the value are taken literally."""
    assert _members(definition) == _ids_of(cities, *expected)


@pytest.fixture
def custom(crm):
    return {
        "csv": _profile(crm, {"attributes": {"age": "42", "tier": "Gold", "vip": "TRUE"}}),
        "api": _profile(crm, {"attributes": {"age": 42, "tier": "gold", "vip": True}}),
        "decimal": _profile(crm, {"attributes": {"age": "41.50", "vip": False}}),
        "words": _profile(crm, {"attributes": {"age": "forty", "tier": ""}}),
        "null": _profile(crm, {"attributes": {"age": None}}),
        "none": _profile(crm),
    }


@pytest.mark.parametrize(("definition", "expected"), [
    ({"attribute": "attributes.age", "op": "eq", "value": 42}, ["csv", "api"]),
    ({"attribute": "attributes.age", "op": "eq", "value": "42"}, ["csv", "api"]),
    ({"attribute": "attributes.age", "op": "gt", "value": 41.5}, ["csv", "api"]),
    ({"attribute": "attributes.age", "op": "gte", "value": 41.5}, ["csv", "api", "decimal"]),
    ({"attribute": "attributes.age", "op": "between", "value": [40, 41.5]}, ["decimal"]),
    ({"attribute": "attributes.age", "op": "neq", "value": 42}, ["decimal", "words"]),
    ({"attribute": "attributes.age", "op": "not_in", "value": [42, "forty"]}, ["decimal"]),
    ({"attribute": "attributes.age", "op": "is_not_set"}, ["null", "none"]),
    ({"attribute": "attributes.tier", "op": "in", "value": ["GOLD"]}, ["csv", "api"]),
    ({"attribute": "attributes.tier", "op": "is_set"}, ["csv", "api"]),
    ({"attribute": "attributes.vip", "op": "eq", "value": True}, ["csv", "api"]),
    ({"attribute": "attributes.vip", "op": "eq", "value": False}, ["decimal"]),
])
def test_custom_attributes_compare_by_text_form_and_numerically(custom, definition, expected):
    """A CSV's "42" and an API's 42 are alike; numbers compare numerically; non-numeric
    text never satisfies a number comparison but is different from a number."""
    assert _members(definition) == _ids_of(custom, *expected)


@pytest.fixture
def dated(crm):
    def person(since):
        return _profile(crm, {"attributes": {"since": since}})

    return {
        "recent": person("2026-06-10"),
        "today": person("2026-06-15T23:59:00+02:00"),
        "old": person("2019-12-30"),
        "leap": person("2024-02-29"),
        "junk": person("soon"),
        "future": person("2026-07-01"),
    }


@pytest.mark.parametrize(("op", "value", "expected"), [
    ("before", "2026-06-10", ["old", "leap"]),
    ("after", "2026-06-10", ["today", "future"]),
    ("within_last", 5, ["recent", "today"]),
    ("within_last", 4, ["today"]),
    ("anniversary_within", 16, ["today", "future"]),
])
def test_date_attributes(dated, op, value, expected):
    """ISO dates as written: before/after strict, within_last counts today, no future."""
    definition = {"attribute": "attributes.since", "op": op, "value": value}
    assert _members(definition) == _ids_of(dated, *expected)


def test_anniversary_wraps_at_year_end(dated):
    """From 28 December, 5 days reach 2 January: the 30 December date is inside."""
    definition = {"attribute": "attributes.since", "op": "anniversary_within", "value": 5}
    late_december = dt.datetime(2026, 12, 28, 9, 0, tzinfo=dt.UTC)
    assert _members(definition, late_december) == _ids_of(dated, "old")
    early_january = dt.datetime(2027, 1, 3, 9, 0, tzinfo=dt.UTC)
    assert _members(definition, early_january) == set()


def test_anniversary_of_29_february(dated):
    """29 February counts as the day between 28 February and 1 March."""
    definition = {"attribute": "attributes.since", "op": "anniversary_within", "value": 1}
    assert _members(definition, dt.datetime(2027, 2, 28, 9, tzinfo=dt.UTC)) == _ids_of(
        dated, "leap")
    assert _members(definition, dt.datetime(2027, 3, 1, 9, tzinfo=dt.UTC)) == set()


@pytest.fixture
def traited(crm):
    # 21:30 UTC on 13 June is 23:30 in Paris: still 13 June, two local days before NOW.
    late = dt.datetime(2026, 6, 13, 21, 30, tzinfo=dt.UTC)
    return {
        "bare": _profile(crm),
        "two": _profile(crm, traits={"purchase_count_90d": 2, "last_purchase_at": late,
                                     "avg_basket": Decimal("20.50")}),
        "three": _profile(crm, traits={"purchase_count_90d": 3,
                                       "last_purchase_at": _ago(days=30)}),
        "zero": _profile(crm, traits={"purchase_count_90d": 0}),
    }


@pytest.mark.parametrize(("definition", "expected"), [
    ({"trait": "purchase_count_90d", "op": "gte", "value": 2}, ["two", "three"]),
    ({"trait": "purchase_count_90d", "op": "gte", "value": 2.5}, ["three"]),
    ({"trait": "purchase_count_90d", "op": "lt", "value": 1}, ["bare", "zero"]),
    ({"trait": "purchase_count_90d", "op": "eq", "value": 0}, ["bare", "zero"]),
    ({"trait": "purchase_count_90d", "op": "neq", "value": 0}, ["two", "three"]),
    ({"trait": "purchase_count_90d", "op": "between", "value": [0, 2]}, ["bare", "two", "zero"]),
    ({"trait": "purchase_count_90d", "op": "is_not_set"}, []),
    ({"trait": "avg_basket", "op": "is_not_set"}, ["bare", "three", "zero"]),
    ({"trait": "avg_basket", "op": "lt", "value": 100}, ["two"]),
    ({"trait": "avg_basket", "op": "neq", "value": 1}, ["two"]),
    ({"trait": "last_purchase_at", "op": "eq", "value": "2026-06-13"}, ["two"]),
    ({"trait": "last_purchase_at", "op": "gt", "value": "2026-06-13"}, []),
    ({"trait": "last_purchase_at", "op": "between", "value": ["2026-05-16", "2026-06-12"]},
     ["three"]),
    ({"trait": "days_since_last_purchase", "op": "eq", "value": 2}, ["two"]),
    ({"trait": "days_since_last_purchase", "op": "gt", "value": 2}, ["three"]),
    ({"trait": "days_since_last_purchase", "op": "between", "value": [1, 30]},
     ["two", "three"]),
    ({"trait": "days_since_last_purchase", "op": "is_not_set"}, ["bare", "zero"]),
])
def test_traits(traited, definition, expected):
    """No traits row reads as count 0 and null dates; dates are Paris days; exact numbers."""
    assert _members(definition) == _ids_of(traited, *expected)


@pytest.fixture
def shoppers(crm):
    def buys(*items):
        return [("purchase", at, value, props) for at, value, props in items]

    shoes = {"category": "Shoes", "price": "59.90"}
    return {
        "idle": _profile(crm),
        "browser": _profile(crm, events=[("page_view", _ago(1), None, None)] * 4),
        "weekly": _profile(crm, events=buys(
            (_ago(1), Decimal("10"), shoes), (_ago(2), Decimal("20"), {"category": "bags"}),
            (_ago(6, 23), Decimal("30"), shoes), (_ago(8), Decimal("40"), shoes))),
        "once": _profile(crm, events=buys((_ago(3), None, {"category": "shoes", "price": 12}))),
        # 1 June 00:30 in Paris is 31 May 22:30 UTC.
        "june": _profile(crm, events=buys(
            (dt.datetime(2026, 5, 31, 22, 30, tzinfo=dt.UTC), Decimal("5"), {}))),
        "may": _profile(crm, events=buys(
            (dt.datetime(2026, 5, 31, 21, 30, tzinfo=dt.UTC), Decimal("5"), {}))),
    }


@pytest.mark.parametrize(("definition", "expected"), [
    ({"event": "purchase", "count": {"gte": 3}, "within_days": 7}, ["weekly"]),
    ({"event": "purchase", "count": {"gte": 4}}, ["weekly"]),
    ({"event": "purchase", "count": {"lt": 1}}, ["idle", "browser"]),
    ({"event": "purchase", "count": {"eq": 0}, "within_days": 7},
     ["idle", "browser", "june", "may"]),
    ({"event": "purchase", "count": {"between": [1, 2]}, "within_days": 7}, ["once"]),
    ({"event": "purchase", "count": {"gte": 1}, "between": ["2026-06-01", "2026-06-01"]},
     ["june"]),
    ({"event": "purchase", "count": {"gte": 1}, "between": ["2026-05-01", "2026-05-31"]},
     ["may"]),
    ({"event": "purchase", "count": {"gte": 3},
      "where": [{"property": "category", "op": "eq", "value": "SHOES"}]}, ["weekly"]),
    ({"event": "purchase", "count": {"gte": 1},
      "where": [{"property": "price", "op": "gt", "value": 50}]}, ["weekly"]),
    ({"event": "purchase", "count": {"gte": 1},
      "where": [{"property": "price", "op": "eq", "value": 12}]}, ["once"]),
    ({"event": "purchase", "count": {"eq": 1},
      "where": [{"property": "category", "op": "neq", "value": "shoes"}]}, ["weekly"]),
    ({"event": "purchase", "count": {"gte": 1},
      "where": [{"property": "category", "op": "in", "value": ["bags", "hats"]},
                {"property": "category", "op": "contains", "value": "AG"}]}, ["weekly"]),
    ({"event": "purchase", "sum": {"gte": 60}, "within_days": 7}, ["weekly"]),
    ({"event": "purchase", "sum": {"lt": 100}}, ["june", "may"]),
    ({"event": "purchase", "avg": {"eq": 25}}, ["weekly"]),
    ({"not": {"event": "purchase", "sum": {"gte": 6}}}, ["idle", "browser", "once", "june",
                                                          "may"]),
    ({"event": "page_view", "count": {"eq": 4}, "within_days": 1}, ["browser"]),
])
def test_events(shoppers, definition, expected):
    """Zero-event profiles count 0; sum/avg of nothing match nothing; windows and Paris
    days; where filters ignore case and compare numbers numerically."""
    assert _members(definition) == _ids_of(shoppers, *expected)


@pytest.fixture
def consenting(crm):
    granted, withdrawn = ConsentEntry.Status.GRANTED, ConsentEntry.Status.WITHDRAWN
    return {
        "yes": _profile(crm, consents=[("email_marketing", granted, _ago(3))]),
        "changed": _profile(crm, consents=[("email_marketing", granted, _ago(3)),
                                           ("email_marketing", withdrawn, _ago(1))]),
        # Same instant: the withdrawal wins, whatever the order of recording.
        "tie": _profile(crm, consents=[("email_marketing", withdrawn, _ago(2)),
                                       ("email_marketing", granted, _ago(2))]),
        "tomorrow": _profile(crm, consents=[("email_marketing", granted, _ago(3)),
                                            ("email_marketing", withdrawn, _ago(-1))]),
        "other": _profile(crm, consents=[("sms", granted, _ago(3))]),
        "silent": _profile(crm),
    }


def test_consent_is_the_latest_entry(consenting):
    """Latest by captured_at, a withdrawal winning a tie; entries after now are not known
    yet; none = no."""
    assert _members({"consent": "email_marketing"}) == _ids_of(
        consenting, "yes", "tomorrow")
    assert _members({"not": {"consent": "email_marketing"}}) == _ids_of(
        consenting, "changed", "tie", "other", "silent")
    q = consent_granted_q("sms", now=NOW)
    assert set(Profile.objects.filter(q).values_list("pk", flat=True)) == _ids_of(
        consenting, "other")


def test_segment_membership(crm):
    """Open stays only, by id or by slug."""
    vip = Segment.objects.create(name="VIP", slug="vip", definition={"all": []})
    inside, left, never = _profile(crm), _profile(crm), _profile(crm)
    SegmentMembership.objects.create(segment=vip, profile=inside, entered_at=_ago(5))
    SegmentMembership.objects.create(segment=vip, profile=left, entered_at=_ago(5),
                                     exited_at=_ago(1))
    assert _members({"segment": "vip"}) == {inside.pk}
    assert _members({"segment": str(vip.pk)}) == {inside.pk}
    assert _members({"segment": vip.pk}) == {inside.pk}
    assert _members({"not": {"segment": "vip"}}) == {left.pk, never.pk}


def test_combinations(cities):
    """all/any/not nest; empty all is everyone, empty any no one."""
    everyone = set(Profile.objects.values_list("pk", flat=True))
    paris = {"attribute": "city", "op": "eq", "value": "Paris"}
    lyon = {"attribute": "city", "op": "eq", "value": "Lyon"}
    assert _members({"all": []}) == everyone
    assert _members({"any": []}) == set()
    assert _members({"not": {"any": []}}) == everyone
    assert _members({"all": [paris, {"not": lyon}]}) == _ids_of(cities, "paris", "shouting")
    assert _members({"any": [{"all": [paris, lyon]}, {"attribute": "city", "op": "is_not_set"}]}
                    ) == _ids_of(cities, "both", "nowhere")
    assert _members({"not": {"all": [paris, {"any": []}]}}) == everyone


def test_a_whole_definition_is_one_query(crm, django_assert_num_queries):
    """Every kind of condition together still runs as a single SQL statement."""
    _profile(crm, {"city": "Paris"}, events=[("purchase", _ago(1), Decimal("9"), {})])
    definition = {"all": [
        {"attribute": "city", "op": "in", "value": ["Paris", "Lyon"]},
        {"attribute": "attributes.since", "op": "anniversary_within", "value": 30},
        {"trait": "days_since_last_purchase", "op": "lte", "value": 30},
        {"any": [
            {"event": "purchase", "count": {"gte": 3}, "within_days": 7,
             "where": [{"property": "price", "op": "gt", "value": 10}]},
            {"event": "purchase", "avg": {"gte": 3}, "between": ["2026-01-01", "2026-03-31"]},
        ]},
        {"not": {"consent": "email_marketing"}},
        {"not": {"segment": "vip"}},
    ]}
    q = compile_definition(definition, now=NOW)
    with django_assert_num_queries(1):
        list(Profile.objects.filter(q).values_list("pk", flat=True))


def test_model_conditions_compile_without_reading_the_database():
    """Model conditions are subqueries on the stored scores (no database access here: the
    test has none; tests/segments/test_ml_scoring.py checks their results)."""
    q = compile_definition({"any": [{"model": "churn", "cluster": 1},
                                     {"model": "buy", "score": {"gte": 0.7}}]}, now=NOW)
    assert isinstance(q, Q) and len(q.children) == 2
