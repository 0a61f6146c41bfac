"""validate_definition: bad definitions come back with their JSON path and a plain message;
good ones pass; references to segments must exist and must not lead back; the schema."""

import dataclasses
import json

import pytest
from jsonschema import Draft202012Validator

from segments.models import Segment
from segments.rules import (
    RULE_SCHEMA_VERSION,
    RuleError,
    event_types_of,
    rule_schema,
    segments_referenced,
    validate_definition,
)
from segments.rules.schema import SCHEMA_FILE

PARIS = {"attribute": "city", "op": "eq", "value": "Paris"}
BUYERS = {"event": "purchase", "count": {"gte": 1}}

GOOD = [
    {"all": []},
    {"any": []},
    {"not": PARIS},
    {"all": [PARIS, {"any": [BUYERS, {"not": {"consent": "email_marketing"}}]}]},
    {"attribute": "city", "op": "in", "value": ["Paris", "Lyon"]},
    {"attribute": "company", "op": "starts_with", "value": "Acme"},
    {"attribute": "region", "op": "is_not_set"},
    {"attribute": "attributes.age", "op": "between", "value": [18, 25.5]},
    {"attribute": "attributes.vip", "op": "eq", "value": True},
    {"attribute": "attributes.tier", "op": "not_in", "value": ["gold", 3]},
    {"attribute": "attributes.client_since", "op": "before", "value": "2024-02-29"},
    {"attribute": "attributes.birthday", "op": "anniversary_within", "value": 7},
    {"trait": "purchase_count_90d", "op": "gte", "value": 2},
    {"trait": "avg_basket", "op": "is_set"},
    {"trait": "last_purchase_at", "op": "between", "value": ["2026-01-01", "2026-03-31"]},
    {"trait": "days_since_last_activity", "op": "gt", "value": 30},
    {"event": "purchase", "sum": {"between": [10, 100]}, "within_days": 30},
    {"event": "page.view", "avg": {"lt": 3}, "between": ["2026-01-01", "2026-01-01"]},
    {"event": "purchase", "count": {"eq": 0},
     "where": [{"property": "category", "op": "in", "value": ["shoes", "bags"]},
               {"property": "price", "op": "gte", "value": 20}]},
]


@pytest.mark.parametrize("definition", GOOD)
def test_good_definitions_pass(definition):
    """Every kind of condition, written right, has no error."""
    assert validate_definition(definition) == []


BAD = [
    ([], "$", "must be an object"),
    ({}, "$", "not a condition; a condition has one of the keys all, any, not, attribute, "
              "trait, event, consent, segment or model"),
    ({"all": [PARIS, {"atribute": "city"}]}, "$.all[1]", "not a condition; a condition has "
     "one of the keys all, any, not, attribute, trait, event, consent, segment or model"),
    ({"all": PARIS}, "$.all", "must be a list"),
    ({"not": [PARIS]}, "$.not", "must be an object"),
    ({"any": [{"attribute": "city", "op": "eq"}]}, "$.any[0].value", "is required"),
    ({"all": [{"attribute": "city", "value": "x"}]}, "$.all[0].op", "is required"),
    ({"all": [{**PARIS, "trait": "x"}]}, "$.all[0].trait",
     "unknown key; expected attribute, op or value"),
    ({"attribute": "city", "op": "like", "value": "x"}, "$.op",
     "must be one of eq, neq, in, not_in, contains, starts_with, gt, gte, lt, lte, between, "
     "is_set, is_not_set, before, after, within_last or anniversary_within"),
    ({"attribute": "city", "op": "in", "value": []}, "$.value", "must have at least 1 item"),
    ({"attribute": "city", "op": "in", "value": "Paris"}, "$.value", "must be a list"),
    ({"attribute": "city", "op": "eq", "value": ""}, "$.value", "must not be empty"),
    ({"attribute": "city", "op": "eq", "value": None}, "$.value",
     "must be a string, a number or a boolean"),
    ({"attribute": "city", "op": "is_set", "value": "x"}, "$.value",
     "is not used with the operator 'is_set'"),
    ({"attribute": "email", "op": "eq", "value": "a@b.fr"}, "$.attribute",
     "encrypted personal data cannot be used in segment rules"),
    ({"not": {"attribute": "birth_date", "op": "is_set"}}, "$.not.attribute",
     "encrypted personal data cannot be used in segment rules"),
    ({"attribute": "shoe_size", "op": "eq", "value": "42"}, "$.attribute",
     "unknown attribute 'shoe_size'; use one of postcode, city, region, country, company "
     "or attributes.<key> for a custom attribute"),
    ({"attribute": "attributes.", "op": "is_set"}, "$.attribute",
     "name the custom attribute after 'attributes.'"),
    ({"attribute": "city", "op": "gt", "value": 3}, "$.op",
     "'gt' does not apply to the text field 'city'; use eq, neq, in, not_in, contains, "
     "starts_with, is_set, is_not_set"),
    ({"attribute": "city", "op": "in", "value": ["Paris", 75]}, "$.value[1]",
     "must be a string: 'city' is a text field"),
    ({"attribute": "attributes.age", "op": "gt", "value": "18"}, "$.value", "must be a number"),
    ({"attribute": "attributes.age", "op": "between", "value": [30, 18]}, "$.value",
     "must be [low, high] with low <= high"),
    ({"attribute": "attributes.age", "op": "between", "value": [18]}, "$.value",
     "must be a list of exactly two values, [low, high]"),
    ({"attribute": "attributes.since", "op": "after", "value": "01/02/2024"}, "$.value",
     "must be a date written YYYY-MM-DD"),
    ({"attribute": "attributes.since", "op": "after", "value": "2023-02-29"}, "$.value",
     "is not a real date"),
    ({"attribute": "attributes.since", "op": "within_last", "value": 0}, "$.value",
     "must be at least 1"),
    ({"attribute": "attributes.since", "op": "within_last", "value": 1.5}, "$.value",
     "must be a whole number"),
    ({"trait": "shoe_size", "op": "gt", "value": 1}, "$.trait", "unknown trait 'shoe_size'"),
    ({"trait": "purchase_count", "op": "gt", "value": "2"}, "$.value",
     "must be a number for the trait 'purchase_count'"),
    ({"trait": "last_purchase_at", "op": "gt", "value": 3}, "$.value",
     "must be a date written YYYY-MM-DD for the trait 'last_purchase_at'"),
    ({"trait": "last_purchase_at", "op": "lt", "value": "2026-13-01"}, "$.value",
     "must be a date written YYYY-MM-DD for the trait 'last_purchase_at'"),
    ({"trait": "days_since_last_purchase", "op": "lt", "value": 1.5}, "$.value",
     "must be a whole number of days for the trait 'days_since_last_purchase'"),
    ({"trait": "revenue_total", "op": "between", "value": [100, 10]}, "$.value",
     "must be [low, high] with low <= high"),
    ({"trait": "purchase_count", "op": "contains", "value": 1}, "$.op",
     "must be one of eq, neq, gt, gte, lt, lte, between, is_set or is_not_set"),
    ({"all": [PARIS, {"event": "purchase", "count": {"gte": 1, "lt": 3}}]}, "$.all[1].count",
     "needs exactly one comparison, one of eq, neq, gt, gte, lt, lte or between"),
    ({"all": [PARIS, {"event": "purchase", "count": {"gte": "3"}}]}, "$.all[1].count.gte",
     "must be a number"),
    ({"all": [PARIS, {"event": "purchase", "count": {"between": [3, 1]}}]},
     "$.all[1].count.between", "must be [low, high] with low <= high"),
    ({"event": "purchase", "count": {"about": 3}}, "$.count.about",
     "unknown key; expected eq, neq, gt, gte, lt, lte or between"),
    ({"event": "purchase"}, "$", "needs one of count, sum or avg"),
    ({"event": "purchase", "count": {"gte": 1}, "sum": {"gte": 1}}, "$",
     "use only one of count and sum"),
    ({"event": "purchase", "count": {"gte": 1}, "within_days": 0}, "$.within_days",
     "must be at least 1"),
    ({"event": "purchase", "count": {"gte": 1}, "within_days": 7,
      "between": ["2026-01-01", "2026-01-31"]}, "$", "use either 'within_days' or 'between', "
                                                     "not both"),
    ({"event": "purchase", "count": {"gte": 1}, "between": ["2026-03-01", "2026-01-31"]},
     "$.between", "the first date must not be after the second"),
    ({"event": "purchase", "count": {"gte": 1}, "between": ["2026-02-30", "2026-03-01"]},
     "$.between[0]", "is not a real date"),
    ({"event": "purchase", "count": {"gte": 1}, "between": ["2026-01-01"]}, "$.between",
     "must be a list of exactly two values, [low, high]"),
    ({"event": "Purchase", "count": {"gte": 1}}, "$.event",
     "event types are stored in lowercase letters, digits and _ . : - "
     "(for example 'purchase')"),
    ({"event": "purchase", "count": {"gte": 1},
      "where": [{"property": "category", "op": "starts_with", "value": "sh"}]},
     "$.where[0].op", "must be one of eq, neq, in, contains, gt, gte, lt or lte"),
    ({"event": "purchase", "count": {"gte": 1},
      "where": [{"property": "price", "op": "gt"}]}, "$.where[0].value", "is required"),
    ({"consent": "email marketing"}, "$.consent",
     "may only contain letters, digits, '-' and '_'"),
    ({"consent": "email_marketing", "status": "granted"}, "$.status",
     "unknown key; expected consent"),
    ({"segment": ""}, "$.segment", "must not be empty"),
    ({"segment": 0}, "$.segment", "must be at least 1"),
    ({"model": "churn", "score": {"gte": 1.7}}, "$.score.gte",
     "a score is a probability, between 0 and 1"),
    ({"any": [PARIS, {"model": "rfm", "cluster": -2}]}, "$.any[1].cluster",
     "must be at least 0"),
    ({"model": "churn"}, "$", "needs one of score or cluster"),
    ({"event": "purchase", "sum": {"gt": float("inf")}}, "$.sum.gt", "must be a finite number"),
]


@pytest.mark.parametrize(("definition", "path", "message"), BAD,
                         ids=[f"{i}:{case[1]}" for i, case in enumerate(BAD)])
def test_bad_definitions_name_the_place_and_the_problem(definition, path, message):
    """The error points at the exact JSON path with a sentence a marketer can act on."""
    errors = validate_definition(definition)
    assert errors, "expected an error"
    assert (errors[0].path, errors[0].message[:len(message)]) == (path, message), errors


def test_every_problem_is_reported_at_once():
    """Shape problems of several conditions come back together, in order."""
    bad = {"all": [
        {"attribute": "city", "op": "eq"},
        {"event": "purchase", "count": {"gte": 1}, "within_days": -2},
        {"trait": "purchase_count", "op": "is_set", "value": 1},
    ]}
    assert validate_definition(bad) == [
        RuleError("$.all[0].value", "is required"),
        RuleError("$.all[1].within_days", "must be at least 1"),
        RuleError("$.all[2].value", "is not used with the operator 'is_set'"),
    ]


def test_odd_keys_are_quoted_in_paths():
    """Keys that are not identifiers are written ['...'] so the path stays readable."""
    errors = validate_definition({"attribute": "city", "op": "eq", "value": "x", "my key": 1})
    assert errors == [RuleError("$['my key']", "unknown key; expected attribute, op or value")]


def test_absurd_nesting_is_refused_before_recursing():
    """A hostile definition nested thousands deep is refused with one error."""
    deep: dict = PARIS
    for _ in range(5000):
        deep = {"not": deep}
    assert validate_definition(deep) == [RuleError("$", "nests more than 64 levels deep")]


def test_rule_error_is_a_frozen_value():
    error = RuleError("$.op", "is required")
    assert error == RuleError("$.op", "is required")
    with pytest.raises(dataclasses.FrozenInstanceError):
        error.path = "$"  # type: ignore[misc]


def _resolver(ref):
    text = str(ref)
    query = Segment.objects.filter(pk=int(text)) if text.isdigit() else Segment.objects.filter(
        slug=text)
    return query.first()


def _segment(slug, definition):
    return Segment.objects.create(name=slug, slug=slug, definition=definition)


@pytest.mark.django_db
def test_references_must_exist():
    """An unknown id or slug is refused; without a resolver references are not checked."""
    vip = _segment("vip", PARIS)
    good = {"any": [{"segment": "vip"}, {"segment": vip.pk}, {"segment": str(vip.pk)}]}
    assert validate_definition(good, resolve_segment=_resolver, self_slug="new") == []
    bad = {"all": [PARIS, {"segment": "gone"}, {"segment": 999999}]}
    assert validate_definition(bad, resolve_segment=_resolver) == [
        RuleError("$.all[1].segment", "unknown segment 'gone'"),
        RuleError("$.all[2].segment", "unknown segment '999999'"),
    ]
    assert validate_definition(bad) == []


@pytest.mark.django_db
def test_a_segment_cannot_include_itself():
    """Directly, by slug or by id."""
    me = _segment("me", PARIS)
    for ref in ("me", me.pk):
        errors = validate_definition({"not": {"segment": ref}}, resolve_segment=_resolver,
                                     self_slug="me")
        assert errors == [RuleError("$.not.segment", "a segment cannot include itself")]


@pytest.mark.django_db
def test_cycles_through_stored_definitions_are_refused():
    """a -> b -> c, and c is being changed to use a: the chain is named."""
    _segment("a", {"all": [PARIS, {"segment": "b"}]})
    b = _segment("b", {"any": [{"not": {"segment": "c"}}]})
    _segment("c", PARIS)
    errors = validate_definition({"all": [BUYERS, {"segment": "a"}]},
                                 resolve_segment=_resolver, self_slug="c")
    assert errors == [RuleError("$.all[1].segment",
                                "refers back to this segment: c -> a -> b -> c")]
    # By id too, and a diamond without a cycle is fine.
    errors = validate_definition({"segment": b.pk}, resolve_segment=_resolver, self_slug="c")
    assert errors == [RuleError("$.segment", "refers back to this segment: c -> b -> c")]
    _segment("d", {"all": [{"segment": "b"}, {"segment": "a"}]})
    assert validate_definition({"segment": "d"}, resolve_segment=_resolver, self_slug="e") == []


@pytest.mark.django_db
def test_cycle_check_survives_bad_stored_data():
    """Cycles among other segments, or junk definitions, do not hang or crash the check."""
    _segment("x", {"segment": "y"})
    _segment("y", {"all": [{"segment": "x"}, "junk", {"segment": None}]})
    _segment("z", ["not", "a", "definition"])
    definition = {"all": [{"segment": "x"}, {"segment": "z"}]}
    assert validate_definition(definition, resolve_segment=_resolver, self_slug="w") == []


def test_event_types_and_referenced_segments():
    """What re-evaluation listens to and what a segment depends on, from the whole tree."""
    definition = {"all": [
        BUYERS,
        {"not": {"event": "email_open", "count": {"gte": 1}, "within_days": 30}},
        {"any": [{"segment": "vip"}, {"segment": 12}, {"all": [{"segment": "vip"}]}]},
    ]}
    assert event_types_of(definition) == {"purchase", "email_open"}
    assert segments_referenced(definition) == {"vip", "12"}
    assert event_types_of(PARIS) == set() and segments_referenced({"all": []}) == set()


def test_schema_is_versioned_valid_and_stored():
    """Draft 2020-12, $id carries the version, and schema_v1.json is the same document."""
    schema = rule_schema()
    Draft202012Validator.check_schema(schema)
    assert RULE_SCHEMA_VERSION == 1
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert f"v{RULE_SCHEMA_VERSION}" in schema["$id"]
    assert SCHEMA_FILE.name == "schema_v1.json"
    stored = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert stored == schema, "regenerate: segments.rules.schema.write_schema_file()"


@pytest.mark.parametrize("definition", GOOD)
def test_schema_alone_accepts_good_definitions(definition):
    """Tools outside Django can check shapes with the stored schema file."""
    stored = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert list(Draft202012Validator(stored).iter_errors(definition)) == []
