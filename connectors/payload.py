"""What a member looks like at a destination: golden values mapped to vendor fields.

Until identity resolution provides golden records, a profile's value of a field is the
first non-empty one among its records, explicit records before implicit ones, then by
source priority (higher first), then the most recently updated. Mapped values may also
be computed traits ("traits.revenue_total"). The hash of email + mapped fields is what
the engine compares with what it last sent.
"""

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.db import connection

from cdp.fields import ENCRYPTED_FIELDS, STANDARD_FIELDS, enc_column
from cdp.models import DataKey, SourceRecord
from cdp.privacy.crypto import data_key_unwrap, decrypt
from segments.models import ProfileTraits

TRAIT_PREFIX = "traits."
TRAITS: frozenset[str] = frozenset(
    f.name for f in ProfileTraits._meta.concrete_fields if f.name != "profile"
)


class MappingError(ValueError):
    """A field mapping names something that is neither a profile field nor a trait."""


def mapping_validate(mapping: Any) -> dict[str, str]:
    if not isinstance(mapping, dict):
        raise MappingError("the field mapping must be an object of vendor field -> source")
    for vendor_field, source in mapping.items():
        if not isinstance(vendor_field, str) or not vendor_field:
            raise MappingError("vendor field names must be non-empty strings")
        if not isinstance(source, str):
            raise MappingError(f"{vendor_field}: the source must be a string")
        if source.startswith(TRAIT_PREFIX):
            if source[len(TRAIT_PREFIX):] not in TRAITS:
                raise MappingError(f"{vendor_field}: unknown trait {source!r}")
        elif source not in STANDARD_FIELDS:
            raise MappingError(f"{vendor_field}: unknown profile field {source!r}")
    return mapping


@dataclass
class Golden:
    values: dict[str, Any] = field(default_factory=dict)
    # The data key of the record the email came from (to seal the email sent).
    email_key_id: uuid.UUID | None = None
    email_key: AESGCM | None = None


def _golden_rows(profile_ids: Sequence[uuid.UUID], secret: list[str],
                 clear: list[str]) -> list[tuple]:
    """(profile, data key id, wrapped key, *ciphertexts, *clear values), best record first."""
    columns = [enc_column(f) for f in secret] + clear
    if connection.vendor != "postgresql":
        rows = (SourceRecord.objects.filter(profile_id__in=profile_ids)
                .order_by("profile_id", "implicit", "-source__priority", "-updated_at", "-id")
                .values_list("profile_id", "data_key_id", *columns))
        wrapped = dict(DataKey.objects.filter(
            pk__in={r[1] for r in rows if r[1]}).values_list("pk", "wrapped"))
        return [(r[0], r[1], wrapped.get(r[1]), *r[2:]) for r in rows]
    selected = "".join(f", r.{c}" for c in columns)
    texts = [str(pid) for pid in profile_ids]
    ids = dict(zip(texts, profile_ids, strict=True))  # back to the caller's UUIDs
    with connection.cursor() as cursor:
        # One query with the ids as one array parameter, the keys joined in; profile ids
        # come back as text (parsing 100,000 UUIDs costs half a second).
        cursor.execute(
            f"SELECT r.profile_id::text, r.data_key_id, k.wrapped{selected} "  # noqa: S608
            "FROM cdp_sourcerecord r JOIN cdp_source s ON s.id = r.source_id "
            "LEFT JOIN cdp_datakey k ON k.id = r.data_key_id "
            "WHERE r.profile_id = ANY(%s::uuid[]) "
            "ORDER BY r.profile_id, r.implicit, s.priority DESC, r.updated_at DESC, r.id DESC",
            [texts],
        )
        return [(ids[row[0]], *row[1:]) for row in cursor.fetchall()]


def golden_values(profile_ids: Sequence[uuid.UUID], wanted: set[str]) -> dict[uuid.UUID, Golden]:
    """Each profile's golden value of the wanted standard fields (email always)."""
    wanted = (wanted | {"email"}) & set(STANDARD_FIELDS)
    secret = [f for f in ENCRYPTED_FIELDS if f in wanted]
    clear = [f for f in wanted if f not in ENCRYPTED_FIELDS]
    keys: dict[uuid.UUID, AESGCM | None] = {}
    out: dict[uuid.UUID, Golden] = {}
    for row in _golden_rows(profile_ids, secret, clear):
        profile_id, key_id, wrapped = row[0], row[1], row[2]
        golden = out.setdefault(profile_id, Golden())
        if key_id is not None and key_id not in keys:
            keys[key_id] = data_key_unwrap(key_id, wrapped) if wrapped is not None else None
        key = keys.get(key_id)
        for position, name in enumerate(secret, start=3):
            if golden.values.get(name) is None and row[position] is not None and key:
                golden.values[name] = decrypt(row[position], field=name, key=key)
                if name == "email":
                    golden.email_key_id, golden.email_key = key_id, key
        for position, name in enumerate(clear, start=3 + len(secret)):
            if golden.values.get(name) is None and row[position] not in (None, ""):
                golden.values[name] = row[position]
    return out


def traits_values(profile_ids: Sequence[uuid.UUID], wanted: set[str]) -> dict[uuid.UUID, dict]:
    if not wanted:
        return {}
    rows = ProfileTraits.objects.filter(profile_id__in=profile_ids).values(
        "profile_id", *sorted(wanted))
    return {row.pop("profile_id"): row for row in rows}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def mapped_fields(mapping: dict[str, str], golden: Golden, traits: dict[str, Any]) -> dict:
    """Vendor field -> value; empty values are left out (never overwrite with blanks)."""
    out = {}
    for vendor_field, source in mapping.items():
        if source.startswith(TRAIT_PREFIX):
            value = traits.get(source[len(TRAIT_PREFIX):])
        else:
            value = golden.values.get(source)
        if value not in (None, ""):
            out[vendor_field] = _plain(value)
    return out


# json.dumps with options builds an encoder per call; one serves every hash, same output.
_HASH_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)


def fields_hash(email: str | None, fields: dict[str, Any]) -> str:
    document = _HASH_JSON.encode([email, fields])
    return hashlib.sha256(document.encode()).hexdigest()
