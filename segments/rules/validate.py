"""validate_definition: every problem of a definition, each with its JSON path.

Shape problems come first (from the JSON Schema); meaning problems are looked for only
once the shape is right, since they assume it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from segments.rules.semantics import semantic_errors
from segments.rules.structure import structure_errors
from segments.rules.walk import json_path, nesting_depth

if TYPE_CHECKING:
    from segments.models import Segment, SegmentModel

# Lists and objects nested this deep are refused before jsonschema recurses into them.
MAX_NESTING = 64


@dataclass(frozen=True)
class RuleError:
    """One problem: where in the definition (JSON path, e.g. "$.all[1].op") and what."""

    path: str
    message: str


def validate_definition(
    definition: Any,
    *,
    resolve_segment: Callable[[str], Segment | None] | None = None,
    self_slug: str | None = None,
    resolve_model: Callable[[str], SegmentModel | None] | None = None,
) -> list[RuleError]:
    """All problems of a definition; [] when it can be saved and compiled.

    resolve_segment finds a referenced segment by id or slug; without it references are
    not checked (nor cycles). self_slug names the segment being saved, so that a chain of
    references leading back to it is refused. resolve_model finds a model by slug; without
    it model references are not checked.
    """
    if nesting_depth(definition) > MAX_NESTING:
        return [RuleError("$", f"nests more than {MAX_NESTING} levels deep")]
    bad_numbers = list(_non_finite(definition, ()))
    if bad_numbers:
        return [RuleError(json_path(p), "must be a finite number") for p in bad_numbers]
    found = structure_errors(definition)
    if not found:
        found = semantic_errors(definition, resolve_segment, self_slug, resolve_model)
    return [RuleError(path, message) for path, message in found]


def _non_finite(value: Any, path: tuple[str | int, ...]) -> Iterator[tuple[str | int, ...]]:
    """NaN and infinities: Python's json accepts them, SQL comparisons do not."""
    if isinstance(value, float) and not math.isfinite(value):
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _non_finite(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _non_finite(item, (*path, index))
