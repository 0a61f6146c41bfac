"""Structural validation: jsonschema errors turned into (JSON path, readable message).

jsonschema's own messages quote Python reprs ("'x' is a required property"); a marketer
reads "$.all[0].op: is required" better. Each keyword our schema uses has a sentence here.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jsonschema import Draft202012Validator, ValidationError

from segments.rules.schema import rule_schema
from segments.rules.walk import json_path

Found = tuple[str, str]

_TYPE_WORDS = {
    "object": "an object",
    "array": "a list",
    "string": "a string",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "a boolean",
    "null": "null",
}


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(rule_schema())


def structure_errors(definition: Any) -> list[Found]:
    """Every shape problem of the definition, in schema order, without duplicates."""
    found: list[Found] = []
    for error in _validator().iter_errors(definition):
        for item in _explain(error):
            if item not in found:
                found.append(item)
    return found


def _words(items: list[str], last: str = "or") -> str:
    quoted = [str(i) for i in items]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} {last} {quoted[-1]}"


def _explain(error: ValidationError) -> list[Found]:
    where = list(error.absolute_path)
    here = json_path(where)
    keyword, expected, instance, schema = (
        error.validator, error.validator_value, error.instance, error.schema,
    )
    if keyword == "required":
        missing = [k for k in expected if isinstance(instance, dict) and k not in instance]
        return [(json_path([*where, k]), "is required") for k in missing]
    if keyword == "additionalProperties":
        allowed = list(schema.get("properties", {}))
        extra = [k for k in instance if k not in allowed]
        return [
            (json_path([*where, k]), f"unknown key; expected {_words(allowed)}") for k in extra
        ]
    if keyword == "oneOf":
        return [(here, _one_of(expected, instance))]
    if keyword == "not":
        return [_forbidden(where, expected, instance)]
    return [(here, _simple(keyword, expected, schema, error.message))]


def _one_of(branches: list[dict[str, Any]], instance: Any) -> str:
    keys = [k for branch in branches for k in branch.get("required", [])]
    present = [k for k in keys if isinstance(instance, dict) and k in instance]
    if len(keys) == len(branches) and not present:
        if set(keys) >= {"all", "any", "attribute"}:
            return f"not a condition; a condition has one of the keys {_words(keys)}"
        return f"needs one of {_words(keys)}"
    if len(present) > 1:
        return f"use only one of {_words(present, 'and')}"
    return "does not match any allowed form"


def _forbidden(where: list[str | int], schema: dict[str, Any], instance: Any) -> Found:
    keys = schema.get("required", [])
    if keys == ["value"]:
        op = instance.get("op") if isinstance(instance, dict) else None
        return json_path([*where, "value"]), f"is not used with the operator {op!r}"
    if len(keys) == 2:
        return json_path(where), f"use either {keys[0]!r} or {keys[1]!r}, not both"
    return json_path(where), "is not allowed here"


def _simple(keyword: str, expected: Any, schema: dict[str, Any], default: str) -> str:
    if keyword == "type":
        kinds = expected if isinstance(expected, list) else [expected]
        return "must be " + _words([_TYPE_WORDS.get(k, k) for k in kinds])
    if keyword == "enum":
        return "must be one of " + _words(list(expected))
    if keyword in ("minItems", "maxItems") and "prefixItems" in schema:
        return "must be a list of exactly two values, [low, high]"
    if keyword == "minItems":
        return f"must have at least {expected} item" + ("s" if expected != 1 else "")
    if keyword == "maxItems":
        return f"must have at most {expected} items"
    if keyword == "minLength":
        return "must not be empty"
    if keyword == "maxLength":
        return f"must be at most {expected} characters"
    if keyword == "minimum":
        return f"must be at least {expected}"
    if keyword in ("minProperties", "maxProperties"):
        return "needs exactly one comparison, one of " + _words(list(schema["properties"]))
    if keyword == "pattern":
        if expected.startswith("^[0-9]{4}"):
            return "must be a date written YYYY-MM-DD"
        return "may only contain letters, digits, '-' and '_'"
    return default
