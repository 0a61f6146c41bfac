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

from django.db.models import Q
from django.utils import timezone

from cdp.fields import CLEAR_FIELDS, ENCRYPTED_FIELDS, INDEXED_FIELDS, bidx_column, enc_column
from cdp.models import SourceRecord
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
