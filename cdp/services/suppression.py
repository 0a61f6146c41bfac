"""The suppression list: identifiers of erased subjects, kept as blind indexes only.

Erasure adds the subject's email, phone and customer id indexes here. When a stale source
later sends the same person again, ingestion still stores the record (the source may be
right: the person may have come back) but restricts its profile and flags it for the DPO,
so nobody is silently resurrected into segments or destinations.
"""

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction

from cdp.audit import audit_record
from cdp.fields import INDEXED_FIELDS, bidx_column
from cdp.models import Profile, SuppressedIdentity
from cdp.signals import profile_restricted

SUPPRESSED_REASON = "matches an identifier of an erased subject: review before use"
_COLUMNS = [bidx_column(name) for name in INDEXED_FIELDS]


def suppression_add(
    *, identifiers: Iterable[tuple[str, str]], now: dt.datetime, request_id: int | None
) -> int:
    """Add (kind, blind index) pairs; already listed ones are left as they are."""
    rows = [
        SuppressedIdentity(kind=kind, bidx=bidx, erased_at=now, request_id=request_id)
        for kind, bidx in set(identifiers)
    ]
    return len(SuppressedIdentity.objects.bulk_create(rows, ignore_conflicts=True))


def suppressed_flag(rows: Iterable[Mapping[str, Any]], *, now: dt.datetime) -> int:
    """Restrict the profiles of record rows holding a suppressed identifier.

    rows: record rows as records_upsert writes them (blind index columns, profile_id).
    Returns how many rows matched. Call inside the transaction that writes them.
    """
    rows = list(rows)
    values = {row[column] for row in rows for column in _COLUMNS} - {None}
    if not values:
        return 0
    hits = set(
        SuppressedIdentity.objects.filter(bidx__in=values).values_list("bidx", flat=True)
    )
    if not hits:
        return 0
    matched = [row for row in rows if any(row[column] in hits for column in _COLUMNS)]
    profile_ids = sorted({row["profile_id"] for row in matched}, key=str)
    flagged = list(
        Profile.objects.filter(pk__in=profile_ids, restricted_at__isnull=True)
        .values_list("pk", flat=True)
    )
    Profile.objects.filter(pk__in=flagged).update(
        restricted_at=now, restriction_reason=SUPPRESSED_REASON, updated_at=now
    )
    for profile_id in flagged:
        audit_record(
            actor="system:ingest", action="erasure.match_flagged", object_type="profile",
            object_id=str(profile_id), profile_id=profile_id, reason=SUPPRESSED_REASON,
            details={"records": sum(1 for row in matched if row["profile_id"] == profile_id)},
        )
    transaction.on_commit(lambda: _notify(flagged))
    return len(matched)


def _notify(profile_ids: list[Any]) -> None:
    for profile_id in profile_ids:
        profile_restricted.send(sender=Profile, profile_id=profile_id, reason=SUPPRESSED_REASON)
