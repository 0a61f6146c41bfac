"""Recording consent: parse, name the subject, append to the ledger once, audit, announce.

An entry is idempotent by (profile, purpose, status, captured_at, source): a resent one is
counted as a duplicate, never stored twice (a unique constraint backs the check). The
subject is named by one identifier, resolved as events resolve theirs (an unknown one
gets an implicit record and profile). After commit, consent_changed tells other apps
which profiles and purposes changed, so a withdrawal takes the person out of segments
and destinations.
"""

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cdp.audit import audit_record
from cdp.models import ConsentEntry, Profile, Purpose, Source
from cdp.privacy.consent import consent_current, consent_history, profiles_allowed_for
from cdp.services.consent_parsing import ParsedConsent, consent_parse
from cdp.services.ingest import BatchReport, batch_parse
from cdp.services.subjects import subjects_resolve
from cdp.signals import consent_changed

Key = tuple[Any, str, str, dt.datetime]


@dataclass
class ConsentStoreResult:
    created: int = 0
    duplicates: int = 0
    new_profiles: int = 0
    statuses: Counter = field(default_factory=Counter)


def purposes_known() -> frozenset[str]:
    """Slugs of the purposes consent may be recorded for (Purpose rows are data)."""
    return frozenset(Purpose.objects.values_list("slug", flat=True))


def _existing(source: Source, keys: Collection[Key]) -> set[Key]:
    rows = ConsentEntry.objects.filter(
        source=source,
        profile_id__in={k[0] for k in keys},
        purpose__in={k[1] for k in keys},
        captured_at__in={k[3] for k in keys},
    ).values_list("profile_id", "purpose", "status", "captured_at")
    return set(rows)


def _announce(rows: Sequence[ConsentEntry]) -> None:
    profile_ids = {row.profile_id for row in rows}
    purposes = {row.purpose for row in rows}
    statuses = {row.status for row in rows}
    transaction.on_commit(
        lambda: consent_changed.send(
            sender=ConsentEntry, profile_ids=profile_ids, purposes=purposes, statuses=statuses
        )
    )


def consents_store(
    *, source: Source, consents: Sequence[ParsedConsent], recorded_by: str,
    now: dt.datetime | None = None,
) -> ConsentStoreResult:
    """Append the new entries in one transaction with one audit row; count the resent."""
    now = now or timezone.now()
    result = ConsentStoreResult()
    if not consents:
        return result
    with transaction.atomic():
        resolution = subjects_resolve(
            source=source, identifiers={c.identifier for c in consents}, now=now
        )
        result.new_profiles = resolution.new_profiles
        wanted: dict[Key, tuple[ParsedConsent, int]] = {}
        for consent in consents:
            record_id, profile_id = resolution.owners[consent.identifier]
            key = (profile_id, consent.purpose, consent.status, consent.captured_at)
            wanted.setdefault(key, (consent, record_id))
        known = _existing(source, wanted)
        rows = [
            ConsentEntry(
                profile_id=key[0], record_id=record_id, source=source, purpose=c.purpose,
                status=c.status, lawful_basis=c.lawful_basis, channel=c.channel,
                notice_version=c.notice_version, notice_hash=c.notice_hash,
                evidence=c.evidence, captured_at=c.captured_at, expires_at=c.expires_at,
                recorded_by=recorded_by,
            )
            for key, (c, record_id) in wanted.items() if key not in known
        ]
        # Conflicts only come from a concurrent identical batch: the entry is there once.
        ConsentEntry.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
        result.created = len(rows)
        result.duplicates = len(consents) - len(rows)
        result.statuses = Counter(row.status for row in rows)
        audit_record(
            actor=recorded_by, action="consent.record", object_type="source",
            object_id=str(source.pk),
            details={
                "source": source.name, "created": result.created,
                "duplicates": result.duplicates, "new_profiles": result.new_profiles,
                "statuses": dict(sorted(result.statuses.items())),
                "purposes": sorted({row.purpose for row in rows}),
            },
        )
        if rows:
            _announce(rows)
    return result


def consents_record(
    *, source: Source, items: Sequence[Any], strict: bool = True, recorded_by: str,
    now: dt.datetime | None = None,
) -> BatchReport:
    """Validate each item (per-item errors with index and field); store the valid ones."""
    now = now or timezone.now()
    purposes = purposes_known()
    region = settings.CDP_DEFAULT_PHONE_REGION

    def parse(raw: dict) -> tuple:
        outcome = consent_parse(raw, strict=strict, purposes=purposes, region=region, now=now)
        return outcome.consent, outcome.issues

    report, parsed = batch_parse(items, parse)
    if parsed:
        result = consents_store(
            source=source, consents=parsed, recorded_by=recorded_by, now=now
        )
        report.created, report.duplicates = result.created, result.duplicates
    return report


def profile_consents_view(
    *, profile_id: uuid.UUID, actor: str, purpose: str = "", now: dt.datetime | None = None
) -> dict[str, Any]:
    """A profile's current state per purpose and full history, with an audit row for the
    read (consent history is personal data). Raises Profile.DoesNotExist."""
    now = now or timezone.now()
    profile = Profile.objects.get(pk=profile_id)
    with transaction.atomic():
        history = list(consent_history(profile.pk))
        audit_record(
            actor=actor, action="consent.view", object_type="profile",
            object_id=str(profile.pk), profile_id=profile.pk,
            details={"purpose": purpose, "entries": len(history)},
        )
    return {
        "profile": profile.pk,
        "restricted_at": profile.restricted_at,
        "current": consent_current(profile.pk, now=now, entries=history),
        "history": history,
        "now": now,
    }


def consents_withdraw(
    *, profile_ids: Collection[uuid.UUID], purpose: str, source: Source, channel: str,
    evidence: dict[str, Any], recorded_by: str, captured_at: dt.datetime | None = None,
) -> int:
    """Record a withdrawal for profiles that may still be used for the purpose (e.g. an
    unsubscribe reported by a destination); those already out get no new entry, so a
    nightly read-back does not grow the ledger. Returns the entries written."""
    captured_at = captured_at or timezone.now()
    with transaction.atomic():
        still_allowed = list(
            profiles_allowed_for(purpose, now=captured_at)
            .filter(pk__in=list(profile_ids)).values_list("pk", flat=True)
        )
        rows = [
            ConsentEntry(
                profile_id=pid, source=source, purpose=purpose,
                status=ConsentEntry.Status.WITHDRAWN, lawful_basis="consent", channel=channel,
                evidence=evidence, captured_at=captured_at, recorded_by=recorded_by,
            )
            for pid in still_allowed
        ]
        ConsentEntry.objects.bulk_create(rows, ignore_conflicts=True)
        if rows:
            audit_record(
                actor=recorded_by, action="consent.record", object_type="source",
                object_id=str(source.pk),
                details={"source": source.name, "created": len(rows),
                         "statuses": {"withdrawn": len(rows)}, "purposes": [purpose],
                         "channel": channel},
            )
            _announce(rows)
    return len(rows)
