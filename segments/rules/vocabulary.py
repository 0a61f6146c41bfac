"""The words of the rule language: condition kinds, operators, attributes and traits.

One place lists them so the schema, the validator and the compiler cannot disagree.
Trait names come from the ProfileTraits columns, so a new column is usable at once.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cache
from typing import Literal

from cdp.fields import CLEAR_FIELDS, ENCRYPTED_FIELDS

KINDS: tuple[str, ...] = (
    "all", "any", "not", "attribute", "trait", "event", "consent", "segment", "model",
)

ATTRIBUTE_PREFIX = "attributes."
# Record fields that are stored in clear (the rest are ciphertext and cannot be queried).
TEXT_ATTRIBUTES: tuple[str, ...] = CLEAR_FIELDS
ENCRYPTED_ATTRIBUTES: tuple[str, ...] = ENCRYPTED_FIELDS

TEXT_OPS: tuple[str, ...] = ("eq", "neq", "in", "not_in", "contains", "starts_with")
NUMBER_OPS: tuple[str, ...] = ("gt", "gte", "lt", "lte", "between")
PRESENCE_OPS: tuple[str, ...] = ("is_set", "is_not_set")
DATE_OPS: tuple[str, ...] = ("before", "after", "within_last", "anniversary_within")
ATTRIBUTE_OPS: tuple[str, ...] = TEXT_OPS + NUMBER_OPS + PRESENCE_OPS + DATE_OPS

TRAIT_OPS: tuple[str, ...] = ("eq", "neq") + NUMBER_OPS + PRESENCE_OPS
COMPARATOR_OPS: tuple[str, ...] = ("eq", "neq") + NUMBER_OPS
PROPERTY_OPS: tuple[str, ...] = ("eq", "neq", "in", "contains", "gt", "gte", "lt", "lte")
AGGREGATES: tuple[str, ...] = ("count", "sum", "avg")

# Derived traits: whole calendar days (settings.TIME_ZONE) between a timestamp and `now`.
DERIVED_TRAITS: dict[str, str] = {
    "days_since_last_activity": "last_activity_at",
    "days_since_last_purchase": "last_purchase_at",
}
# Bookkeeping columns of ProfileTraits that are not traits.
_NOT_TRAITS = frozenset({"profile", "computed_at"})

TraitKind = Literal["number", "datetime", "days"]

# Custom attribute values: the text form is compared; these shapes give it a meaning.
NUMBER_RE = r"^-?[0-9]+(\.[0-9]+)?$"
ISO_DATE_PREFIX_RE = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


class Trait:
    """A trait as rules see it: its column, kind and value for profiles without traits."""

    __slots__ = ("column", "kind", "default")

    def __init__(self, column: str, kind: TraitKind, default: int | None) -> None:
        self.column = column
        self.kind = kind
        # Non-null columns count from zero, so a profile without a traits row has 0.
        self.default = default


@cache
def traits() -> dict[str, Trait]:
    """Trait name -> Trait, read from the ProfileTraits model (lazily: apps must be ready)."""
    from django.db import models

    from segments.models import ProfileTraits

    found: dict[str, Trait] = {}
    for field in ProfileTraits._meta.concrete_fields:
        if field.name in _NOT_TRAITS:
            continue
        if isinstance(field, models.DateTimeField):
            found[field.name] = Trait(field.name, "datetime", None)
        else:
            found[field.name] = Trait(field.name, "number", None if field.null else 0)
    for name, column in DERIVED_TRAITS.items():
        found[name] = Trait(column, "days", None)
    return found


def attribute_key(name: str) -> str | None:
    """The custom attribute key of "attributes.<key>", or None for a record field."""
    return name[len(ATTRIBUTE_PREFIX):] if name.startswith(ATTRIBUTE_PREFIX) else None


def parse_date(text: object) -> dt.date | None:
    """A strict ISO calendar date (YYYY-MM-DD), or None."""
    if not isinstance(text, str) or not _ISO_DATE.match(text):
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def is_number(value: object) -> bool:
    """JSON numbers only: booleans are not numbers in rules."""
    return isinstance(value, int | float) and not isinstance(value, bool)
