"""The JSON Schema (draft 2020-12) of segment definitions, version 1.

Shapes only: which keys a condition has and what JSON type each value is. Meaning (known
traits, dates that exist, ordered ranges, segment references) is checked in semantics.py.
Conditions are told apart by an if/else chain on their kind key rather than oneOf, so a
bad condition reports errors of its own kind with precise paths instead of "not valid
under any of the given schemas".

Regenerate the stored copy after a change:
`python manage.py shell -c "from segments.rules.schema import write_schema_file as w; w()"`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from segments.rules.vocabulary import (
    AGGREGATES,
    ATTRIBUTE_OPS,
    COMPARATOR_OPS,
    KINDS,
    PROPERTY_OPS,
    TRAIT_OPS,
)

RULE_SCHEMA_VERSION = 1
SCHEMA_FILE = Path(__file__).with_name(f"schema_v{RULE_SCHEMA_VERSION}.json")
MAX_LIST_ITEMS = 1000

_SCALAR = {"type": ["string", "number", "boolean"], "minLength": 1}
_NUMBER = {"type": "number"}
_DAYS = {"type": "integer", "minimum": 1}
_DATE = {"type": "string", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/$defs/{name}"}


def _pair(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "prefixItems": [item, item], "minItems": 2, "maxItems": 2}


def _list_of(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": item, "minItems": 1, "maxItems": MAX_LIST_ITEMS}


def _value_by_op(shapes: dict[tuple[str, ...], dict[str, Any] | None]) -> list[dict[str, Any]]:
    """if op is one of these then value has this shape (None: value must be absent)."""
    rules = []
    for ops, shape in shapes.items():
        then: dict[str, Any] = (
            {"not": {"required": ["value"]}}
            if shape is None
            else {"properties": {"value": shape}, "required": ["value"]}
        )
        rules.append({"if": {"properties": {"op": {"enum": list(ops)}}, "required": ["op"]},
                      "then": then})
    return rules


def _closed(properties: dict[str, Any], required: list[str], **extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required,
            "additionalProperties": False, **extra}


def _kind_chain(kinds: tuple[str, ...]) -> dict[str, Any]:
    """if it has key k1 then k1's schema, else if it has k2 ..., else: unknown condition."""
    if not kinds:
        return _ref("unknown")
    head, *rest = kinds
    return {"if": {"required": [head]}, "then": _ref(head), "else": _kind_chain(tuple(rest))}


def _conditions() -> dict[str, Any]:
    return {
        "condition": {"type": "object", **_kind_chain(KINDS)},
        "unknown": {"oneOf": [{"required": [kind]} for kind in KINDS]},
        "all": _closed({"all": {"type": "array", "items": _ref("condition")}}, ["all"]),
        "any": _closed({"any": {"type": "array", "items": _ref("condition")}}, ["any"]),
        "not": _closed({"not": _ref("condition")}, ["not"]),
        "attribute": _closed(
            {"attribute": {"type": "string", "minLength": 1, "maxLength": 200},
             "op": {"enum": list(ATTRIBUTE_OPS)}, "value": True},
            ["attribute", "op"],
            allOf=_value_by_op({
                ("eq", "neq"): _SCALAR,
                ("in", "not_in"): _list_of(_SCALAR),
                ("contains", "starts_with"): {"type": "string", "minLength": 1},
                ("gt", "gte", "lt", "lte"): _NUMBER,
                ("between",): _pair(_NUMBER),
                ("before", "after"): _DATE,
                ("within_last", "anniversary_within"): _DAYS,
                ("is_set", "is_not_set"): None,
            }),
        ),
        "trait": _closed(
            {"trait": {"type": "string", "minLength": 1}, "op": {"enum": list(TRAIT_OPS)},
             "value": True},
            ["trait", "op"],
            allOf=_value_by_op({
                ("eq", "neq", "gt", "gte", "lt", "lte"): {"type": ["number", "string"]},
                ("between",): _pair({"type": ["number", "string"]}),
                ("is_set", "is_not_set"): None,
            }),
        ),
        "event": _closed(
            {"event": {"type": "string", "minLength": 1, "maxLength": 64},
             **{name: _ref("comparator") for name in AGGREGATES},
             "where": {"type": "array", "items": _ref("property"), "maxItems": 50},
             "within_days": _DAYS, "between": _pair(_DATE)},
            ["event"],
            oneOf=[{"required": [name]} for name in AGGREGATES],
            **{"not": {"required": ["within_days", "between"]}},
        ),
        "consent": _closed(
            {"consent": {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$", "maxLength": 64}},
            ["consent"],
        ),
        "segment": _closed(
            {"segment": {"type": ["string", "integer"], "minLength": 1, "minimum": 1}},
            ["segment"],
        ),
        "model": _closed(
            {"model": {"type": "string", "minLength": 1}, "score": _ref("comparator"),
             "cluster": {"type": "integer", "minimum": 0}},
            ["model"],
            oneOf=[{"required": ["score"]}, {"required": ["cluster"]}],
        ),
    }


def _parts() -> dict[str, Any]:
    return {
        "comparator": {
            "type": "object",
            "properties": {
                **{op: _NUMBER for op in COMPARATOR_OPS if op != "between"},
                "between": _pair(_NUMBER),
            },
            "additionalProperties": False,
            "minProperties": 1,
            "maxProperties": 1,
        },
        "property": _closed(
            {"property": {"type": "string", "minLength": 1, "maxLength": 200},
             "op": {"enum": list(PROPERTY_OPS)}, "value": True},
            ["property", "op", "value"],
            allOf=_value_by_op({
                ("eq", "neq"): _SCALAR,
                ("in",): _list_of(_SCALAR),
                ("contains",): {"type": "string", "minLength": 1},
                ("gt", "gte", "lt", "lte"): _NUMBER,
            }),
        ),
    }


def rule_schema() -> dict[str, Any]:
    """The definition format as JSON Schema; `$id` names the version."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:cdp:segments:rules:v{RULE_SCHEMA_VERSION}",
        "title": f"Segment definition, version {RULE_SCHEMA_VERSION}",
        "description": (
            "A rule tree: all/any/not over attribute, trait, event, consent, segment "
            "and model conditions."
        ),
        "$ref": "#/$defs/condition",
        "$defs": {**_conditions(), **_parts()},
    }


def schema_json() -> str:
    """The schema as stored in schema_v1.json (stable key order, trailing newline)."""
    return json.dumps(rule_schema(), indent=2) + "\n"


def write_schema_file() -> Path:
    """Store the schema beside this module, for readers and tools outside Django."""
    SCHEMA_FILE.write_text(schema_json(), encoding="utf-8")
    return SCHEMA_FILE
