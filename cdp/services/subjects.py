"""Naming a data subject by one identifier, as events and consent entries do.

An item names its person by external_id (a record of the same source), customer_id,
email or phone. Known identifiers resolve to the record (and so the profile) holding
them; an unknown one gets an implicit record (holding only that identifier) and so a
profile, which the real record joins later through the same blind index.
"""

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from cdp.fields import INDEXED_FIELDS, bidx_column
from cdp.models import Source, SourceRecord
from cdp.normalize import NormalizationError, clean_text, normalize_email, normalize_phone
from cdp.privacy.crypto import blind_index
from cdp.services.record_parsing import ParsedRecord
from cdp.services.records import records_upsert

IDENTIFIERS: tuple[str, ...] = ("external_id", "customer_id", "email", "phone")

Identifier = tuple[str, str]
# (record id, profile id)
Owner = tuple[int, Any]


@dataclass
class SubjectResolution:
    owners: dict[Identifier, Owner] = field(default_factory=dict)
    new_profiles: int = 0


def text_field(raw: Mapping[str, Any], name: str, limit: int) -> str | None:
    """A stripped text (or integer) value; None when absent or empty."""
    value = raw.get(name)
    if value is None or isinstance(value, bool):
        return None
    if not isinstance(value, str | int):
        raise NormalizationError("must be a string")
    text = str(value).strip()
    if len(text) > limit:
        raise NormalizationError(f"longer than {limit} characters")
    return text or None


def identifier_parse(raw: Mapping[str, Any], region: str) -> Identifier:
    """The first identifier present, in IDENTIFIERS order, normalized."""
    for name in IDENTIFIERS:
        text = text_field(raw, name, 255)
        if text is None:
            continue
        try:
            if name == "email":
                return name, normalize_email(text)
            if name == "phone":
                return name, normalize_phone(text, region)
            return name, clean_text(text)
        except NormalizationError as exc:
            raise NormalizationError(f"{name}: {exc}") from exc
    raise NormalizationError("one of email, phone, customer_id or external_id is required")


def _implicit_external_id(kind: str, value: str) -> str:
    return value if kind == "external_id" else f"{kind}:{blind_index(kind, value)}"


def _known(source: Source, wanted: Collection[Identifier]) -> dict[Identifier, Owner]:
    """Map identifiers already known to (record id, profile id)."""
    found: dict[Identifier, Owner] = {}
    by_ext = [v for k, v in wanted if k == "external_id"]
    if by_ext:
        rows = SourceRecord.objects.filter(source=source, external_id__in=by_ext)
        for ext, rid, pid in rows.values_list("external_id", "id", "profile_id"):
            found[("external_id", ext)] = (rid, pid)
    for kind in INDEXED_FIELDS:
        index = {blind_index(kind, v): v for k, v in wanted if k == kind}
        if not index:
            continue
        column = bidx_column(kind)
        rows = SourceRecord.objects.filter(**{f"{column}__in": list(index)})
        if connection.vendor == "postgresql":
            rows = rows.order_by(column, "id").distinct(column)
        else:
            rows = rows.order_by("id")
        for bidx, rid, pid in rows.values_list(column, "id", "profile_id"):
            found.setdefault((kind, index[bidx]), (rid, pid))
    return found


def subjects_resolve(
    *, source: Source, identifiers: Collection[Identifier], now: dt.datetime | None = None
) -> SubjectResolution:
    """Every identifier's (record id, profile id), creating implicit records for the unknown.

    Call inside the transaction that stores what the identifiers name.
    """
    now = now or timezone.now()
    wanted = set(identifiers)
    with transaction.atomic():
        result = SubjectResolution(owners=_known(source, wanted))
        missing = wanted - result.owners.keys()
        if missing:
            stubs = [
                ParsedRecord(_implicit_external_id(k, v), {} if k == "external_id" else {k: v})
                for k, v in missing
            ]
            upserted = records_upsert(source=source, records=stubs, implicit=True, now=now)
            result.new_profiles = upserted.created
            result.owners.update(_known(source, missing))
    return result
