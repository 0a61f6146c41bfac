"""Golden records: per field, the record whose value the profile shows.

Survivorship: the highest source priority, then the most recently updated record, then
the most frequent value among the profile's records (compared through blind indexes for
identifiers); the golden record stores which record won each field, so no personal value
is copied (it stays encrypted in its record, and erasure reaches it). Recomputed only
for the profiles whose records changed.
"""

import uuid
from collections import Counter, defaultdict
from collections.abc import Collection
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from cdp.db import staged_rows
from cdp.fields import CLEAR_FIELDS, ENCRYPTED_FIELDS, INDEXED_FIELDS, bidx_column, enc_column
from cdp.models import Profile, Source, SourceRecord
from identity.models import GoldenRecord

CHUNK = 5000
FIELDS = (*ENCRYPTED_FIELDS, *CLEAR_FIELDS)


def _present(row: dict[str, Any], name: str) -> bool:
    if name in ENCRYPTED_FIELDS:
        return row[enc_column(name)] is not None
    return row[name] not in (None, "")


def _choose(rows: list[dict[str, Any]]) -> dict[str, int]:
    sources = {}
    for name in FIELDS:
        holders = [row for row in rows if _present(row, name)]
        if not holders:
            continue
        if name in INDEXED_FIELDS:
            counts = Counter(row[bidx_column(name)] for row in holders)
            frequency = {row["id"]: counts[row[bidx_column(name)]] for row in holders}
        elif name in CLEAR_FIELDS:
            counts = Counter(row[name] for row in holders)
            frequency = {row["id"]: counts[row[name]] for row in holders}
        else:
            frequency = {}
        best = max(holders, key=lambda row: (row["source__priority"], row["updated_at"],
                                             frequency.get(row["id"], 0), row["id"]))
        sources[name] = best["id"]
    return sources


def golden_refresh(*, profile_ids: Collection[uuid.UUID]) -> int:
    """Recompute these profiles' golden records; returns how many were written."""
    if not profile_ids:
        return 0
    if connection.vendor == "postgresql":
        return _refresh_sql(profile_ids)
    return _refresh_python(profile_ids)


def records_golden_refresh(record_ids: Collection[int],
                           also: Collection[uuid.UUID] = ()) -> int:
    """Refresh the golden records of the profiles holding these records (just arrived,
    changed or moved), and of `also` (profiles they left): a new record from a trusted
    source, or a fresher one, may win a field. Without it a profile would show, and
    connectors send, its old values until the next full run."""
    held = set(SourceRecord.objects.filter(pk__in=list(record_ids))
               .values_list("profile_id", flat=True))
    return golden_refresh(profile_ids=held | set(also))


def _field_sql(name: str, only: str | None) -> str:
    """The winning record per profile for one field, ordered as _choose orders them."""
    if name in ENCRYPTED_FIELDS:
        present = f"r.{enc_column(name)} IS NOT NULL"
    else:
        present = f"r.{name} IS NOT NULL AND CAST(r.{name} AS text) <> ''"
    if name in INDEXED_FIELDS:
        frequency = f"count(*) OVER (PARTITION BY r.profile_id, r.{bidx_column(name)})"
    elif name in CLEAR_FIELDS:
        frequency = f"count(*) OVER (PARTITION BY r.profile_id, r.{name})"
    else:
        frequency = "0"
    return (
        f"SELECT DISTINCT ON (profile_id) profile_id, '{name}' AS field, id FROM ("  # noqa: S608
        f"SELECT r.id, r.profile_id, s.priority, r.updated_at, {frequency} AS frequency "
        f"FROM {SourceRecord._meta.db_table} r {_only(only)}"
        f"JOIN {Source._meta.db_table} s ON s.id = r.source_id WHERE {present}) c "
        "ORDER BY profile_id, priority DESC, updated_at DESC, frequency DESC, id DESC"
    )


def _only(staged: str | None) -> str:
    return f"JOIN {staged} g ON g.id = r.profile_id " if staged else ""


# Below this many profiles the refresh joins their list: no need to count the profiles.
FEW = 10_000


def _refresh_sql(profile_ids: Collection[uuid.UUID]) -> int:
    """The same survivorship as _choose, set-based: a full run refreshes every profile
    (a million at a time), which row by row in Python takes minutes. Asked for most
    profiles, it recomputes them all (same result for the others): joining each field's
    scan with a staged list of half a million ids costs more than the extra rows."""
    everyone = len(profile_ids) >= FEW and len(profile_ids) * 2 >= Profile.objects.count()
    golden = GoldenRecord._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        only, listed = None, ""
        if not everyone:
            # Named once: each field's scan joins it (an inline list of a few ids would
            # otherwise be repeated in every one).
            staged = staged_rows(cursor, "_golden_profiles", [("id", "uuid")],
                                 [(pid,) for pid in profile_ids])
            only = "_golden_ids"
            listed = f"WITH _golden_ids AS (SELECT id FROM {staged} s) "  # noqa: S608
        winners = " UNION ALL ".join(f"({_field_sql(name, only)})" for name in FIELDS)
        if len(profile_ids) > FEW:
            cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(
            f"{listed}INSERT INTO {golden} (profile_id, sources, computed_at) "  # noqa: S608 - ours
            "SELECT p.profile_id, COALESCE(jsonb_object_agg(w.field, w.id) "
            "FILTER (WHERE w.field IS NOT NULL), '{}'::jsonb), %s "
            f"FROM (SELECT DISTINCT r.profile_id FROM {SourceRecord._meta.db_table} r "
            f"{_only(only)}) p "
            f"LEFT JOIN ({winners}) w ON w.profile_id = p.profile_id GROUP BY p.profile_id "
            "ON CONFLICT (profile_id) DO UPDATE SET sources = EXCLUDED.sources, "
            "computed_at = EXCLUDED.computed_at",
            [timezone.now()])
        return cursor.rowcount


def _refresh_python(profile_ids: Collection[uuid.UUID]) -> int:
    ids = sorted(profile_ids, key=str)
    columns = ["id", "profile_id", "source__priority", "updated_at",
               *(enc_column(f) for f in ENCRYPTED_FIELDS), *CLEAR_FIELDS,
               *(bidx_column(f) for f in INDEXED_FIELDS)]
    written, now = 0, timezone.now()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        rows: dict[uuid.UUID, list[dict]] = defaultdict(list)
        for row in SourceRecord.objects.filter(Q(profile_id__in=chunk)).values(*columns):
            rows[row["profile_id"]].append(row)
        goldens = [GoldenRecord(profile_id=pid, sources=_choose(records), computed_at=now)
                   for pid, records in rows.items()]
        GoldenRecord.objects.bulk_create(
            goldens, update_conflicts=True, unique_fields=["profile"],
            update_fields=["sources", "computed_at"])
        written += len(goldens)
    return written
