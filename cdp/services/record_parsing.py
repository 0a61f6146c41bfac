"""Turn one raw record (API item or CSV row) into normalized values; pure, no database."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from cdp.fields import MAX_LENGTH, STANDARD_FIELDS
from cdp.normalize import (
    NormalizationError,
    clean_text,
    normalize_birth_date,
    normalize_country,
    normalize_email,
    normalize_phone,
    normalize_postcode,
)


@dataclass
class ParsedRecord:
    external_id: str
    # Normalized values of the fields present in the input; None clears a field.
    values: dict[str, str | None]
    # Custom attributes present in the input (merged key by key; None removes a key).
    attributes: dict[str, Any] | None = None
    # Column values of a brand-new row (ciphertexts, blind indexes), computed ahead by
    # records.record_prepare, possibly in a worker process. Optional.
    prepared: dict[str, Any] | None = None


@dataclass
class ParseOutcome:
    record: ParsedRecord | None
    # (field, message) pairs; messages never quote the value.
    issues: list[tuple[str | None, str]] = field(default_factory=list)


def _normalizers(region: str) -> dict[str, Callable[[str], str]]:
    return {
        "first_name": clean_text,
        "last_name": clean_text,
        "email": normalize_email,
        "phone": partial(normalize_phone, region=region),
        "birth_date": normalize_birth_date,
        "address_line1": clean_text,
        "address_line2": clean_text,
        "postcode": normalize_postcode,
        "city": clean_text,
        "region": clean_text,
        "country": normalize_country,
        "company": clean_text,
        "customer_id": clean_text,
    }


_CACHE: dict[str, dict[str, Callable[[str], str]]] = {}


def _as_text(value: Any) -> str | None:
    if type(value) is str:
        return value.strip() or None
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise NormalizationError("must be a string")
    text = str(value).strip()
    return text or None


def record_parse(raw: Mapping[str, Any], *, strict: bool, region: str = "FR") -> ParseOutcome:
    """Validate and normalize one record.

    strict (API): any bad field rejects the item, and unknown keys are errors.
    lenient (CSV import): a field that fails normalization is left out with a warning
    (missing on a new record; an existing record keeps its stored value); the record is
    rejected only without an external id or any usable field.
    """
    normalizers = _CACHE.get(region) or _CACHE.setdefault(region, _normalizers(region))
    issues: list[tuple[str | None, str]] = []
    try:
        external_id = _as_text(raw.get("external_id"))
    except NormalizationError as exc:
        return ParseOutcome(None, [("external_id", str(exc))])
    if external_id is None:
        return ParseOutcome(None, [("external_id", "required")])
    if len(external_id) > MAX_LENGTH["external_id"]:
        return ParseOutcome(None, [("external_id", "longer than 255 characters")])

    values: dict[str, str | None] = {}
    for name, value in raw.items():
        if name in ("external_id", "attributes"):
            continue
        if name not in normalizers:
            if strict:
                issues.append((name, "unknown field; custom data belongs in attributes"))
            continue
        try:
            text = _as_text(value)
            if text is not None:
                if len(text) > MAX_LENGTH[name]:
                    raise NormalizationError(f"longer than {MAX_LENGTH[name]} characters")
                text = normalizers[name](text)
            values[name] = text
        except NormalizationError as exc:
            # Left out rather than cleared: a bad value in a later file must not erase
            # a good stored one. A new record simply lacks the field.
            issues.append((name, str(exc)))

    attributes = raw.get("attributes")
    if attributes is not None and not isinstance(attributes, dict):
        issues.append(("attributes", "must be an object"))
        attributes = None
    if strict and issues:
        return ParseOutcome(None, issues)
    has_value = any(v is not None for v in values.values()) or bool(attributes)
    # An API item may legitimately only clear fields; a CSV row must bring something.
    if (not has_value) if not strict else (not values and attributes is None):
        issues.append((None, "no usable field"))
        return ParseOutcome(None, issues)
    return ParseOutcome(ParsedRecord(external_id, values, attributes), issues)


__all__ = ["STANDARD_FIELDS", "ParseOutcome", "ParsedRecord", "record_parse"]
