"""Upsert source records by (source, external_id): encrypt, index, attach to a profile.

Resending the same batch changes nothing: a record whose present fields already hold the
same values is counted as unchanged and not written.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from cdp.fields import (
    CLEAR_FIELDS,
    ENCRYPTED_FIELDS,
    INDEXED_FIELDS,
    MATCH_FIELDS,
    bidx_column,
    enc_column,
)
from cdp.models import Profile, Source, SourceRecord
from cdp.normalize import match_key
from cdp.privacy.crypto import blind_index, decrypt, encrypt
from cdp.services.record_parsing import ParsedRecord

_WRITE_FIELDS = (
    [enc_column(f) for f in ENCRYPTED_FIELDS]
    + ["match_enc"]
    + [bidx_column(f) for f in INDEXED_FIELDS]
    + list(CLEAR_FIELDS)
    + ["attributes", "implicit", "updated_at"]
)


@dataclass
class UpsertResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    records: list[SourceRecord] = field(default_factory=list)

    def add(self, other: "UpsertResult") -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged


def _merge_duplicates(records: Sequence[ParsedRecord]) -> list[ParsedRecord]:
    """Several items with one external id in a batch: later values win, field by field."""
    merged: dict[str, ParsedRecord] = {}
    for rec in records:
        seen = merged.get(rec.external_id)
        if seen is None:
            merged[rec.external_id] = ParsedRecord(
                rec.external_id, dict(rec.values), dict(rec.attributes or {}) or rec.attributes
            )
            continue
        seen.values.update(rec.values)
        if rec.attributes is not None:
            seen.attributes = {**(seen.attributes or {}), **rec.attributes}
    return list(merged.values())


def _current(rec: SourceRecord, name: str) -> str | None:
    if name in ENCRYPTED_FIELDS:
        return decrypt(getattr(rec, enc_column(name)), field=name)
    return getattr(rec, name)


def _apply(rec: SourceRecord, changes: dict[str, str | None]) -> None:
    for name, value in changes.items():
        if name in ENCRYPTED_FIELDS:
            setattr(rec, enc_column(name), encrypt(value, field=name))
        else:
            setattr(rec, name, value)
        if name in INDEXED_FIELDS:
            setattr(rec, bidx_column(name), blind_index(name, value))
    if any(name in MATCH_FIELDS for name in changes):
        keys = {}
        for name in MATCH_FIELDS:
            plain = changes[name] if name in changes else _current(rec, name)
            keys[name] = match_key(plain)
        blob = json.dumps(keys, separators=(",", ":")) if any(keys.values()) else None
        rec.match_enc = encrypt(blob, field="match")


def _merged_attributes(old: dict, new: dict | None) -> dict:
    if new is None:
        return old
    merged = {**old, **new}
    return {k: v for k, v in merged.items() if v is not None}


def _diff(rec: SourceRecord, item: ParsedRecord) -> dict[str, str | None]:
    return {name: v for name, v in item.values.items() if _current(rec, name) != v}


def _assign_profiles(new_records: list[SourceRecord]) -> list[Profile]:
    """Join the profile of an existing record sharing an email, phone or customer id index.

    Interim rule until identity resolution: first match wins, in field order; records
    of the same batch join each other too. Returns the profiles to create.
    """
    owners: dict[tuple[str, str], object] = {}
    for name in INDEXED_FIELDS:
        column = bidx_column(name)
        wanted = {getattr(r, column) for r in new_records} - {None}
        if not wanted:
            continue
        rows = (
            SourceRecord.objects.filter(**{f"{column}__in": wanted})
            .order_by("id")
            .values_list(column, "profile_id")
        )
        for value, profile_id in rows:
            owners.setdefault((name, value), profile_id)
    created: list[Profile] = []
    for rec in new_records:
        keys = [(n, getattr(rec, bidx_column(n))) for n in INDEXED_FIELDS]
        keys = [k for k in keys if k[1] is not None]
        profile_id = next((owners[k] for k in keys if k in owners), None)
        if profile_id is None:
            profile = Profile()
            created.append(profile)
            profile_id = profile.id
        rec.profile_id = profile_id
        for key in keys:
            owners.setdefault(key, profile_id)
    return created


def records_upsert(
    *,
    source: Source,
    records: Sequence[ParsedRecord],
    implicit: bool = False,
    now: datetime | None = None,
) -> UpsertResult:
    """Create or update records in one transaction; returns the counts and written rows.

    implicit=True marks records created only because an event named someone unknown; a
    real record for the same (source, external_id) later clears the mark.
    """
    now = now or timezone.now()
    items = _merge_duplicates(records)
    existing = {
        r.external_id: r
        for r in SourceRecord.objects.filter(
            source=source, external_id__in=[i.external_id for i in items]
        )
    }
    result = UpsertResult()
    to_create: list[SourceRecord] = []
    to_write: list[SourceRecord] = []
    for item in items:
        rec = existing.get(item.external_id)
        if rec is None:
            rec = SourceRecord(
                source=source, external_id=item.external_id, received_at=now, implicit=implicit
            )
            changes = {k: v for k, v in item.values.items() if v is not None}
            to_create.append(rec)
        else:
            changes = _diff(rec, item)
            attributes = _merged_attributes(rec.attributes, item.attributes)
            upgraded = rec.implicit and not implicit
            if not changes and attributes == rec.attributes and not upgraded:
                result.unchanged += 1
                result.records.append(rec)
                continue
            rec.implicit = rec.implicit and implicit
        _apply(rec, changes)
        rec.attributes = _merged_attributes(rec.attributes or {}, item.attributes)
        rec.updated_at = now
        to_write.append(rec)

    with transaction.atomic():
        profiles = _assign_profiles(to_create)
        Profile.objects.bulk_create(profiles, batch_size=2000)
        SourceRecord.objects.bulk_create(
            [_fresh_copy(r) if r.pk else r for r in to_write],
            batch_size=1000,
            update_conflicts=True,
            unique_fields=["source", "external_id"],
            update_fields=_WRITE_FIELDS,
        )
    result.created = len(to_create)
    result.updated = len(to_write) - len(to_create)
    result.records.extend(to_write)
    return result


def _fresh_copy(rec: SourceRecord) -> SourceRecord:
    """An unsaved twin of an existing row so one INSERT .. ON CONFLICT writes every row."""
    copy = SourceRecord(
        source_id=rec.source_id,
        external_id=rec.external_id,
        profile_id=rec.profile_id,
        received_at=rec.received_at,
    )
    for name in _WRITE_FIELDS:
        setattr(copy, name, getattr(rec, name))
    return copy
