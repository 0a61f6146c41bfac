"""Upsert source records by (source, external_id): encrypt, index, attach to a profile.

Resending the same batch changes nothing: a record whose present fields already hold the
same values is counted as unchanged and not written. Rows travel as plain dicts and are
written with one COPY + INSERT .. ON CONFLICT (cdp.db.bulk_write).

Each new record gets its own data key (envelope encryption, see cdp.privacy.datakeys);
a record carrying an identifier of an erased subject is stored, but its profile is
restricted and flagged for the DPO rather than silently brought back into use.
"""

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from cdp.db import bulk_write
from cdp.fields import (
    CLEAR_FIELDS,
    ENCRYPTED_FIELDS,
    INDEXED_FIELDS,
    MATCH_FIELDS,
    MATCH_VERBATIM,
    bidx_column,
    enc_column,
)
from cdp.models import DataKey, Profile, Source, SourceRecord
from cdp.normalize import match_key
from cdp.privacy.crypto import blind_index, data_key_new, decrypt, seal_many
from cdp.privacy.datakeys import data_keys_load
from cdp.services.record_parsing import ParsedRecord
from cdp.services.suppression import suppressed_flag
from cdp.signals import records_changed

_DATA_COLUMNS = (
    [enc_column(f) for f in ENCRYPTED_FIELDS]
    + ["match_enc"]
    + [bidx_column(f) for f in INDEXED_FIELDS]
    + list(CLEAR_FIELDS)
    + ["attributes", "implicit", "updated_at", "data_key_id"]
)
_ALL_COLUMNS = ["source_id", "external_id", "profile_id", "received_at", *_DATA_COLUMNS]
_TABLE = SourceRecord._meta.db_table
_ENCRYPTED, _INDEXED = set(ENCRYPTED_FIELDS), set(INDEXED_FIELDS)
_MATCH = set(MATCH_FIELDS) | set(MATCH_VERBATIM)
_ENC_COLUMN = {name: enc_column(name) for name in ENCRYPTED_FIELDS} | {"match": "match_enc"}
_BIDX_COLUMN = {name: bidx_column(name) for name in INDEXED_FIELDS}


@dataclass
class UpsertResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    # Records matching an erased subject's identifier (their profile is restricted).
    suppressed: int = 0


def _merge_duplicates(records: Sequence[ParsedRecord]) -> list[ParsedRecord]:
    """Several items with one external id in a batch: later values win, field by field."""
    merged: dict[str, ParsedRecord] = {}
    for rec in records:
        seen = merged.get(rec.external_id)
        if seen is None:
            attrs = dict(rec.attributes) if rec.attributes is not None else None
            merged[rec.external_id] = ParsedRecord(
                rec.external_id, dict(rec.values), attrs, rec.prepared
            )
            continue
        seen.values.update(rec.values)
        seen.prepared = None  # merged values: recompute
        if rec.attributes is not None:
            seen.attributes = {**(seen.attributes or {}), **rec.attributes}
    return list(merged.values())


def _current(row: dict[str, Any], name: str) -> str | None:
    if name in ENCRYPTED_FIELDS:
        return decrypt(row[enc_column(name)], field=name, key=row["_key"])
    return row[name]


def _apply(row: dict[str, Any], changes: dict[str, str | None], fresh: bool = False) -> None:
    """Write normalized values into a row: ciphertext, blind index, matching forms.

    fresh: the row has no stored values, so fields absent from `changes` are empty, and
    it gets a new data key.
    """
    if fresh:
        material = data_key_new()
        row.update(data_key_id=material.id, _wrapped=material.wrapped, _key=material.cipher)
    secret: dict[str, str | None] = {}
    for name, value in changes.items():
        if name in _ENCRYPTED:
            secret[name] = value
        else:
            row[name] = value
        if name in _INDEXED:
            row[_BIDX_COLUMN[name]] = blind_index(name, value)
    if any(name in _MATCH for name in changes):
        keys = {}
        for name in (*MATCH_FIELDS, *MATCH_VERBATIM):
            plain = changes.get(name) if fresh or name in changes else _current(row, name)
            keys[name] = match_key(plain) if name in MATCH_FIELDS else plain
        secret["match"] = json.dumps(keys, separators=(",", ":")) if any(keys.values()) else None
    for name, token in seal_many(row["_key"], secret).items():
        row[_ENC_COLUMN[name]] = token


def record_prepare(item: ParsedRecord) -> ParsedRecord:
    """Compute the encrypted/indexed columns a new row would hold (pure CPU, no database).

    Import workers call this so the process writing to the database only diffs and writes.
    """
    row: dict[str, Any] = {}
    _apply(row, {k: v for k, v in item.values.items() if v is not None}, fresh=True)
    del row["_key"]  # not picklable, and the writer has no more to encrypt in a new row
    item.prepared = row
    return item


def _merged_attributes(old: dict, new: dict | None) -> dict:
    if new is None:
        return old
    merged = {**old, **new}
    return {k: v for k, v in merged.items() if v is not None}


def _assign_profiles(new_rows: list[dict[str, Any]]) -> list[uuid.UUID]:
    """Join the profile of an existing record sharing an email, phone or customer id index.

    Interim rule until identity resolution: the oldest matching record wins, in field
    order; records of the same batch join each other too. Returns profile ids to create.
    """
    owners: dict[tuple[str, str], uuid.UUID] = {}
    for name in INDEXED_FIELDS:
        column = bidx_column(name)
        wanted = {r[column] for r in new_rows} - {None}
        if not wanted:
            continue
        rows = SourceRecord.objects.filter(**{f"{column}__in": wanted})
        if connection.vendor == "postgresql":
            # One row per value (its oldest record), however many records share it.
            rows = rows.order_by(column, "id").distinct(column)
        else:
            rows = rows.order_by("id")
        for value, profile_id in rows.values_list(column, "profile_id"):
            owners.setdefault((name, value), profile_id)
    created: list[uuid.UUID] = []
    for row in new_rows:
        keys = [(n, row[bidx_column(n)]) for n in INDEXED_FIELDS if row[bidx_column(n)]]
        profile_id = next((owners[k] for k in keys if k in owners), None)
        if profile_id is None:
            profile_id = uuid.uuid4()
            created.append(profile_id)
        row["profile_id"] = profile_id
        for key in keys:
            owners.setdefault(key, profile_id)
    return created


def _new_row(source: Source, external_id: str, now: datetime, implicit: bool) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(["id", *_ALL_COLUMNS])
    row.update(source_id=source.pk, external_id=external_id, received_at=now, implicit=implicit)
    row["attributes"] = {}
    return row


def records_upsert(
    *,
    source: Source,
    records: Sequence[ParsedRecord],
    implicit: bool = False,
    now: datetime | None = None,
) -> UpsertResult:
    """Create or update records in one transaction; returns created/updated/unchanged.

    implicit=True marks records created only because an event named someone unknown; a
    real record for the same (source, external_id) later clears the mark.
    """
    now = now or timezone.now()
    items = _merge_duplicates(records)
    existing = {
        row["external_id"]: row
        for row in SourceRecord.objects.filter(
            source=source, external_id__in=[i.external_id for i in items]
        ).values("id", *_ALL_COLUMNS)
    }
    keys = data_keys_load(row["data_key_id"] for row in existing.values())
    for row in existing.values():
        row["_key"] = keys.get(row["data_key_id"])
    result = UpsertResult()
    new_rows: list[dict[str, Any]] = []
    to_write: list[dict[str, Any]] = []
    for item in items:
        row = existing.get(item.external_id)
        if row is None:
            row = _new_row(source, item.external_id, now, implicit)
            if item.prepared is not None:
                row.update(item.prepared)
            else:
                _apply(row, {k: v for k, v in item.values.items() if v is not None}, fresh=True)
            new_rows.append(row)
        else:
            changes = {k: v for k, v in item.values.items() if _current(row, k) != v}
            attributes = _merged_attributes(row["attributes"], item.attributes)
            upgraded = row["implicit"] and not implicit
            if not changes and attributes == row["attributes"] and not upgraded:
                result.unchanged += 1
                continue
            row["implicit"] = row["implicit"] and implicit
            _apply(row, changes)
        row["attributes"] = _merged_attributes(row["attributes"], item.attributes)
        row["updated_at"] = now
        to_write.append(row)

    with transaction.atomic():
        profile_ids = _assign_profiles(new_rows)
        bulk_write(
            Profile._meta.db_table,
            ["id", "created_at", "updated_at"],
            [(pid, now, now) for pid in profile_ids],
            fresh=True,  # random UUIDs
        )
        bulk_write(
            DataKey._meta.db_table,
            ["id", "wrapped", "created_at"],
            [(row["data_key_id"], row["_wrapped"], now) for row in new_rows],
            fresh=True,  # random UUIDs
        )
        changed = [row for row in to_write if row.get("id") is not None]
        for rows, fresh in ((new_rows, True), (changed, False)):
            bulk_write(
                _TABLE,
                _ALL_COLUMNS,
                [[row[c] for c in _ALL_COLUMNS] for row in rows],
                conflict=["source_id", "external_id"],
                update=_DATA_COLUMNS,
                fresh=fresh,
            )
        result.suppressed = suppressed_flag(to_write, now=now)
        if to_write:
            source_id, external_ids = source.pk, [row["external_id"] for row in to_write]
            transaction.on_commit(lambda: records_changed.send(
                sender=SourceRecord, source_id=source_id, external_ids=external_ids))
    result.created = len(new_rows)
    result.updated = len(to_write) - len(new_rows)
    return result
