"""The DPO's subject search: who is this email or phone, what is held, what did they allow.

Profiles are found through the blind index (cdp.selectors.profiles_by_identifier), so the
identifier is never decrypted nor stored; the search itself is audited (one row per
profile shown, or one row saying nobody matched), without the value searched for.
"""

import uuid
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cdp.audit import audit_record
from cdp.models import ConsentEntry, Profile, Purpose
from cdp.normalize import NormalizationError
from cdp.privacy.consent import consent_current, entry_allows
from cdp.selectors import profiles_by_identifier
from cdp.services.profiles import record_plain

SEARCH_KINDS: tuple[str, ...] = ("email", "phone")
# What a DPO needs to recognise the person; the archive (dsar_access) has the rest.
SHOWN_FIELDS: tuple[str, ...] = ("first_name", "last_name", "email", "phone", "city", "country")


class SubjectInvalid(ValueError):
    """The value is not an email / phone at all (the message never repeats it)."""


@dataclass(frozen=True)
class PurposeState:
    purpose: str
    name: str
    entry: ConsentEntry | None
    allows: bool


@dataclass
class SubjectMatch:
    profile: Profile
    records: list[dict[str, Any]] = field(default_factory=list)
    consents: list[PurposeState] = field(default_factory=list)


def _records(profile: Profile) -> list[dict[str, Any]]:
    rows = []
    for record in profile.records.select_related("source").order_by("id"):
        plain = record_plain(record)
        rows.append({
            "source": record.source.name, "external_id": record.external_id,
            "implicit": record.implicit,
            "fields": [(name, plain[name]) for name in SHOWN_FIELDS if plain.get(name)],
        })
    return rows


def consent_states(profile_id: uuid.UUID, purposes: list[Purpose]) -> list[PurposeState]:
    """Every known purpose with the profile's current entry (None: nothing recorded)."""
    now = timezone.now()
    current = consent_current(profile_id, now=now)
    names = {p.slug: p.name for p in purposes}
    slugs = [*names, *sorted(set(current) - set(names))]
    return [
        PurposeState(purpose=slug, name=names.get(slug, slug), entry=current.get(slug),
                     allows=entry_allows(current.get(slug), now=now))
        for slug in slugs
    ]


def subject_search(*, kind: str, value: str, actor: str) -> list[SubjectMatch]:
    """The profiles holding this email or phone, with records in clear and consent state.

    Audited in the same transaction as the read: the DPO sees personal data in clear.
    """
    if kind not in SEARCH_KINDS:
        raise SubjectInvalid(f"search by one of {', '.join(SEARCH_KINDS)}")
    try:
        found = profiles_by_identifier(kind, value, region=settings.CDP_DEFAULT_PHONE_REGION)
        profiles = list(found)
    except NormalizationError as exc:
        raise SubjectInvalid(f"not a valid {kind}") from exc
    purposes = list(Purpose.objects.order_by("slug"))
    with transaction.atomic():
        matches = [SubjectMatch(profile=p, records=_records(p),
                                consents=consent_states(p.pk, purposes)) for p in profiles]
        for match in matches or [None]:
            audit_record(
                actor=actor, action="subject.search", object_type="profile",
                object_id=str(match.profile.pk) if match else "",
                profile_id=match.profile.pk if match else None,
                details={"identified_by": kind, "matches": len(matches),
                         "records": len(match.records) if match else 0},
            )
    return matches


def profile_summary(profile_id: uuid.UUID) -> dict[str, Any]:
    """What an erasure or restriction would touch, in counts (no personal data): for the
    confirmation page. Raises Profile.DoesNotExist."""
    profile = Profile.objects.get(pk=profile_id)
    return {
        "profile": profile,
        "sources": sorted(set(profile.records.values_list("source__name", flat=True))),
        "records": profile.records.count(),
        "events": profile.events.count(),
        "consent_entries": ConsentEntry.objects.filter(profile_id=profile_id).count(),
    }
