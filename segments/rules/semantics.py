"""Semantic validation of a well-formed definition: what the schema cannot say.

Known attributes and traits, operators that make sense for the value's type, ranges in
order, dates that exist, segment references that exist and do not lead back to the
segment being saved, and model references whose output fits the condition (a score of a
predictive model between 0 and 1, a cluster of a clustering model that exists). Runs only
after structure_errors() found nothing, so shapes hold.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from segments.rules.vocabulary import (
    AGGREGATES,
    ATTRIBUTE_PREFIX,
    ENCRYPTED_ATTRIBUTES,
    PRESENCE_OPS,
    TEXT_ATTRIBUTES,
    TEXT_OPS,
    attribute_key,
    is_number,
    parse_date,
    traits,
)
from segments.rules.walk import iter_conditions, json_path, segments_referenced

Path = tuple[str | int, ...]
Found = tuple[str, str]
Resolver = Callable[[str], Any]

ENCRYPTED_MESSAGE = "encrypted personal data cannot be used in segment rules"
_EVENT_TYPE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.:-")


def semantic_errors(
    definition: dict[str, Any], resolve: Resolver | None, self_slug: str | None,
    resolve_model: Resolver | None = None,
) -> list[Found]:
    """Every meaning problem of a structurally valid definition."""
    found: list[Found] = []
    for path, node in iter_conditions(definition):
        for where, message in _check(node, path, resolve, self_slug, resolve_model):
            found.append((json_path(where), message))
    return found


def _check(node: dict[str, Any], path: Path, resolve: Resolver | None,
           self_slug: str | None, resolve_model: Resolver | None = None,
           ) -> Iterator[tuple[Path, str]]:
    if "attribute" in node:
        yield from _attribute(node, path)
    elif "trait" in node:
        yield from _trait(node, path)
    elif "event" in node:
        yield from _event(node, path)
    elif "segment" in node and resolve is not None:
        yield from _segment(str(node["segment"]), (*path, "segment"), resolve, self_slug)
    elif "model" in node:
        yield from _model(node, path, resolve_model)


def _attribute(node: dict[str, Any], path: Path) -> Iterator[tuple[Path, str]]:
    name, op, value = node["attribute"], node["op"], node.get("value")
    key = attribute_key(name)
    if name in ENCRYPTED_ATTRIBUTES:
        yield (*path, "attribute"), ENCRYPTED_MESSAGE
        return
    if key is None and name not in TEXT_ATTRIBUTES:
        yield (*path, "attribute"), (
            f"unknown attribute {name!r}; use one of {', '.join(TEXT_ATTRIBUTES)} "
            f"or {ATTRIBUTE_PREFIX}<key> for a custom attribute"
        )
        return
    if key is not None and not key.strip():
        yield (*path, "attribute"), f"name the custom attribute after {ATTRIBUTE_PREFIX!r}"
        return
    if key is None:
        yield from _text_field(name, op, value, path)
    elif op == "between":
        yield from _ordered(value, (*path, "value"))
    elif op in ("before", "after") and parse_date(value) is None:
        yield (*path, "value"), "is not a real date"


def _text_field(name: str, op: str, value: Any, path: Path) -> Iterator[tuple[Path, str]]:
    """Record fields hold text: no numeric or date comparisons, and string values only."""
    if op not in TEXT_OPS + PRESENCE_OPS:
        yield (*path, "op"), (
            f"{op!r} does not apply to the text field {name!r}; use "
            f"{', '.join(TEXT_OPS + PRESENCE_OPS)}"
        )
        return
    values = value if isinstance(value, list) else [value]
    for index, item in enumerate(values):
        if op not in PRESENCE_OPS and not isinstance(item, str):
            where = (*path, "value", index) if isinstance(value, list) else (*path, "value")
            yield where, f"must be a string: {name!r} is a text field"


def _trait(node: dict[str, Any], path: Path) -> Iterator[tuple[Path, str]]:
    known = traits()
    name, op, value = node["trait"], node["op"], node.get("value")
    if name not in known:
        yield (*path, "trait"), f"unknown trait {name!r}; known traits: {', '.join(known)}"
        return
    if op in PRESENCE_OPS:
        return
    kind = known[name].kind
    values = value if op == "between" else [value]
    bad = False
    for index, item in enumerate(values):
        where = (*path, "value", index) if op == "between" else (*path, "value")
        problem = _trait_value_problem(kind, item)
        if problem:
            bad = True
            yield where, f"{problem} for the trait {name!r}"
    if op == "between" and not bad:
        low, high = (parse_date(v) for v in value) if kind == "datetime" else value
        if low > high:
            yield (*path, "value"), "must be [low, high] with low <= high"


def _trait_value_problem(kind: str, item: Any) -> str | None:
    if kind == "number":
        return None if is_number(item) else "must be a number"
    if kind == "days":
        ok = is_number(item) and float(item).is_integer()
        return None if ok else "must be a whole number of days"
    return None if parse_date(item) else "must be a date written YYYY-MM-DD"


def _event(node: dict[str, Any], path: Path) -> Iterator[tuple[Path, str]]:
    kind = node["event"]
    if kind != kind.strip().lower() or not set(kind) <= _EVENT_TYPE_CHARS:
        yield (*path, "event"), (
            "event types are stored in lowercase letters, digits and _ . : - "
            f"(for example {kind.strip().lower()!r})"
        )
    for name in AGGREGATES:
        if name in node and "between" in node[name]:
            yield from _ordered(node[name]["between"], (*path, name, "between"))
    if "between" in node:
        dates = [parse_date(v) for v in node["between"]]
        for index, day in enumerate(dates):
            if day is None:
                yield (*path, "between", index), "is not a real date"
        if None not in dates and dates[0] > dates[1]:
            yield (*path, "between"), "the first date must not be after the second"


def _model(node: dict[str, Any], path: Path,
           resolve: Resolver | None) -> Iterator[tuple[Path, str]]:
    """Scores are probabilities; the model must exist and give what the condition reads."""
    if "score" in node:
        ((op, value),) = node["score"].items()
        values = value if op == "between" else [value]
        if any(not 0 <= v <= 1 for v in values):
            yield (*path, "score", op), "a score is a probability, between 0 and 1"
            return
        if op == "between":
            yield from _ordered(value, (*path, "score", "between"))
    if resolve is None:
        return
    model = resolve(node["model"])
    if model is None:
        yield (*path, "model"), f"unknown model {node['model']!r}"
    elif "score" in node and not model.predictive:
        yield (*path, "score"), (f"{node['model']!r} is a clustering model: use "
                                 '{"cluster": <number>}')
    elif "cluster" in node and model.predictive:
        yield (*path, "cluster"), (f"{node['model']!r} gives a score: use "
                                   '{"score": {"gte": <0..1>}}')
    elif "cluster" in node:
        active = model.versions.filter(is_active=True).only("metrics").first()
        count = (active.metrics or {}).get("clusters") if active else None
        if count is not None and node["cluster"] >= count:
            yield (*path, "cluster"), (f"the active version of {node['model']!r} has "
                                       f"clusters 0 to {count - 1}")


def _ordered(pair: list[Any], where: Path) -> Iterator[tuple[Path, str]]:
    if Decimal(str(pair[0])) > Decimal(str(pair[1])):
        yield where, "must be [low, high] with low <= high"


def _segment(ref: str, where: Path, resolve: Resolver,
             self_slug: str | None) -> Iterator[tuple[Path, str]]:
    target = resolve(ref)
    if target is None:
        yield where, f"unknown segment {ref!r}"
        return
    if self_slug is not None and target.slug == self_slug:
        yield where, "a segment cannot include itself"
        return
    chain = _path_back(target, resolve, self_slug)
    if chain:
        yield where, "refers back to this segment: " + " -> ".join([self_slug or "?", *chain])


def _path_back(start: Any, resolve: Resolver, self_slug: str | None) -> list[str]:
    """Slugs from start to the segment being saved through stored definitions, or []."""
    if self_slug is None:
        return []
    seen = {start.pk}
    stack: list[tuple[Any, list[str]]] = [(start, [start.slug])]
    while stack:
        segment, chain = stack.pop()
        for ref in sorted(segments_referenced(segment.definition)):
            found = resolve(ref)
            if found is None:
                continue
            if found.slug == self_slug:
                return [*chain, found.slug]
            if found.pk not in seen:
                seen.add(found.pk)
                stack.append((found, [*chain, found.slug]))
    return []
