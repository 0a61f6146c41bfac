"""Walking a rule tree: JSON paths and the facts other code derives from a definition.

Tolerant of malformed input, because stored definitions of other segments are walked
when looking for reference cycles and a bad one must not crash the check.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def json_path(parts: Iterable[str | int]) -> str:
    """"$.all[1].count.gte" for ["all", 1, "count", "gte"]; odd keys as ['a b']."""
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            out += f".{part}"
        else:
            out += "[" + repr(part) + "]"
    return out


def iter_conditions(
    definition: Any, path: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], dict[str, Any]]]:
    """Every condition object of the tree with its path, parents before children."""
    if not isinstance(definition, dict):
        return
    yield path, definition
    for key in ("all", "any"):
        children = definition.get(key)
        if isinstance(children, list):
            for index, child in enumerate(children):
                yield from iter_conditions(child, (*path, key, index))
    if "not" in definition:
        yield from iter_conditions(definition["not"], (*path, "not"))


def event_types_of(definition: Any) -> set[str]:
    """Event types the definition counts: what re-evaluation on ingest listens to."""
    return {
        node["event"]
        for _, node in iter_conditions(definition)
        if isinstance(node.get("event"), str)
    }


def segments_referenced(definition: Any) -> set[str]:
    """Segments the definition refers to, ids or slugs as written (ids as text)."""
    return {
        str(node["segment"])
        for _, node in iter_conditions(definition)
        if isinstance(node.get("segment"), str | int) and not isinstance(node["segment"], bool)
    }


def nesting_depth(value: Any) -> int:
    """How deeply lists and objects nest (iteratively, so hostile input cannot recurse)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Iterable[Any] = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children)
    return deepest


def models_referenced(definition: Any) -> set[str]:
    """Models (slugs) the definition reads scores or clusters of."""
    return {
        node["model"]
        for _, node in iter_conditions(definition)
        if isinstance(node.get("model"), str)
    }
