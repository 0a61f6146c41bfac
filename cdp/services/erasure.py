"""Erasure (GDPR Art. 17): delete a subject's data and crypto-shred what cannot be reached.

In one transaction: the subject's events, consent entries (through the ledger's erasure
path), source records and profile are deleted, and the records' data keys destroyed, so
any copy of their ciphertext left in backups, replicas or dumps decrypts to nothing (see
cdp.privacy.datakeys for the backup caveat). The subject's identifiers stay only as blind
indexes on the suppression list, so a stale source cannot silently bring them back.
Registered erasers (segments, destinations) run first; after commit `profiles_erased` is
sent so destinations delete the person remotely. What remains is deliberately
pseudonymous: the audit log and the request register keep the profile id.

Retention purges use the same path without a request and without suppression (the
person did not object; if they come back they are simply new).
"""

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone

from cdp.audit import audit_record
from cdp.fields import INDEXED_FIELDS, bidx_column
from cdp.models import ConsentEntry, Event, Profile, SourceRecord, SubjectRequest
from cdp.privacy.datakeys import data_keys_destroy
from cdp.privacy.erasers import run_erasers
from cdp.services.restriction import ReasonRequired
from cdp.services.suppression import suppression_add
from cdp.signals import profiles_erased


@dataclass
class ErasureResult:
    profiles: list[uuid.UUID]
    counts: dict[str, int] = field(default_factory=dict)
    request: SubjectRequest | None = None


def _erasure_path() -> None:
    """Let this transaction delete from the append-only consent ledger (trigger flag)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('cdp.erasure', 'on', true)")


def profiles_erase(
    *,
    profile_ids: Sequence[uuid.UUID],
    actor: str,
    reason: str,
    request: SubjectRequest | None = None,
    suppress: bool = True,
    now: dt.datetime | None = None,
) -> ErasureResult:
    """Erase these profiles and everything about them; returns what was deleted.

    Call inside a transaction of your own only if it is short: the audit lock is held
    until it ends. Profiles already gone are skipped (erasing twice is harmless).
    """
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(
            Profile.objects.select_for_update().filter(pk__in=list(profile_ids))
            .order_by("pk").values_list("pk", flat=True)
        )
        result = ErasureResult(profiles=ids, request=request)
        if not ids:
            return result
        _erasure_path()
        records = list(
            SourceRecord.objects.filter(profile_id__in=ids).values(
                "pk", "data_key_id", *(bidx_column(name) for name in INDEXED_FIELDS)
            )
        )
        counts = run_erasers(ids, request)
        counts["events"] = Event.objects.filter(profile_id__in=ids).delete()[0]
        counts["consent_entries"] = ConsentEntry.objects.filter(profile_id__in=ids).delete()[0]
        counts["source_records"] = SourceRecord.objects.filter(
            pk__in=[r["pk"] for r in records]
        ).delete()[0]
        counts["data_keys_destroyed"] = data_keys_destroy(r["data_key_id"] for r in records)
        Profile.objects.filter(pk__in=ids).delete()
        counts["profiles"] = len(ids)
        if suppress:
            identifiers = [
                (name, r[bidx_column(name)])
                for r in records for name in INDEXED_FIELDS if r[bidx_column(name)]
            ]
            counts["suppressed_identifiers"] = suppression_add(
                identifiers=identifiers, now=now, request_id=request.pk if request else None
            )
        for profile_id in ids:
            audit_record(
                actor=actor, action="subject.erase", object_type="profile",
                object_id=str(profile_id), profile_id=profile_id, reason=reason,
                details={"request": request.pk if request else None,
                         "suppressed": suppress, "counts": counts if len(ids) == 1 else {}},
            )
        result.counts = counts
        reason_sent = reason
        transaction.on_commit(
            lambda: profiles_erased.send(
                sender=Profile, profile_ids=ids, reason=reason_sent,
                request_id=request.pk if request else None,
            )
        )
    return result


def subject_erase(
    *,
    profile_ids: Sequence[uuid.UUID],
    identified_by: str,
    actor: str,
    reason: str,
    received_at: dt.datetime | None = None,
) -> ErasureResult:
    """An erasure request: registered, answered at once, audited, suppression listed."""
    text = (reason or "").strip()
    if not text:
        raise ReasonRequired("a reason is required")
    now = timezone.now()
    with transaction.atomic():
        request = SubjectRequest.objects.create(
            kind=SubjectRequest.Kind.ERASURE, identified_by=identified_by,
            profile_ids=[str(pid) for pid in profile_ids], received_at=received_at or now,
            handled_by=actor, reason=text[:300],
        )
        result = profiles_erase(
            profile_ids=profile_ids, actor=actor, reason=text[:300], request=request, now=now
        )
        request.answered_at = timezone.now()
        request.summary = result.counts
        request.save(update_fields=["answered_at", "summary"])
    return result
