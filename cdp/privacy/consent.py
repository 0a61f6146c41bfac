"""What the consent ledger means: the one place that says whether a profile may be used.

The current state of a purpose for a profile is its latest entry captured at or before
`now`: by captured_at, then, on a tie of captured_at, withdrawn beats denied beats
granted (doubt goes against processing), then the later id. Entries are keyed by
ConsentEntry.profile, so several records of one profile (or a merged profile) share one
state. A current "granted" whose expires_at is at or before `now` counts as not
granted; an older grant does not come back. A restricted profile (GDPR Art. 18) may be
used for no purpose, whatever its consents.

Segments (segments.consent) and connectors ask `allowed_for_q` / `profiles_allowed_for`;
the API and the admin show `consent_current` and `consent_history`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

from django.db.models import Case, Exists, IntegerField, OuterRef, Q, QuerySet, Value, When
from django.utils import timezone

from cdp.models import ConsentEntry, Profile

Status = ConsentEntry.Status
# Higher wins a tie of captured_at.
STATUS_RANK: dict[str, int] = {Status.GRANTED: 0, Status.DENIED: 1, Status.WITHDRAWN: 2}


def entry_order_key(entry: ConsentEntry) -> tuple[dt.datetime, int, int]:
    """Sort key of the ledger's order: the greatest key is the current entry."""
    return entry.captured_at, STATUS_RANK.get(entry.status, 0), entry.pk or 0


def entry_allows(entry: ConsentEntry | None, *, now: dt.datetime) -> bool:
    """A current entry allows processing when it is a grant that has not expired."""
    return (
        entry is not None
        and entry.status == Status.GRANTED
        and (entry.expires_at is None or entry.expires_at > now)
    )


def _rank() -> Case:
    return Case(
        *(When(status=status, then=Value(rank)) for status, rank in STATUS_RANK.items()),
        default=Value(0), output_field=IntegerField(),
    )


def consent_history(profile_id: uuid.UUID) -> QuerySet[ConsentEntry]:
    """Every entry of the profile, the current-to-be first (the ledger's order, reversed)."""
    return (
        ConsentEntry.objects.filter(profile_id=profile_id)
        .select_related("source", "record")
        .annotate(status_rank=_rank())
        .order_by("-captured_at", "-status_rank", "-id")
    )


def consent_current(
    profile_id: uuid.UUID, *, now: dt.datetime | None = None,
    entries: Iterable[ConsentEntry] | None = None,
) -> dict[str, ConsentEntry]:
    """The current entry of each purpose the profile has entries for (known at `now`).

    Pass `entries` (the profile's history) to avoid reading the ledger twice.
    """
    now = now or timezone.now()
    if entries is None:
        entries = ConsentEntry.objects.filter(profile_id=profile_id, captured_at__lte=now)
    current: dict[str, ConsentEntry] = {}
    for entry in entries:
        if entry.captured_at > now:
            continue
        seen = current.get(entry.purpose)
        if seen is None or entry_order_key(entry) > entry_order_key(seen):
            current[entry.purpose] = entry
    return current


def _current_grants(purpose: str, now: dt.datetime) -> QuerySet[ConsentEntry]:
    """Grants of the purpose, unexpired at `now`, that no entry known at `now` outranks.

    The outer entry is a grant (rank 0), so an entry outranks it when it was captured
    later, or at the same instant with another status (denied, withdrawn) or a later id.
    Written as an anti-join (NOT EXISTS) over the (profile, purpose, captured_at) index:
    PostgreSQL runs it as one pass over the ledger instead of a lookup per profile.
    """
    known = ConsentEntry.objects.filter(purpose=purpose, captured_at__lte=now)
    outranking = known.filter(profile=OuterRef("profile")).filter(
        Q(captured_at__gt=OuterRef("captured_at"))
        | (
            Q(captured_at=OuterRef("captured_at"))
            & (~Q(status=Status.GRANTED) | Q(id__gt=OuterRef("id")))
        )
    )
    return (
        known.filter(status=Status.GRANTED)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .exclude(Exists(outranking))
    )


def allowed_for_q(purpose: str, *, now: dt.datetime) -> Q:
    """Profiles that may be used for `purpose` at `now`, as a Q over Profile.

    Granted (current entry), not expired, not restricted. Two-valued (never NULL), so
    NOT over it means "may not be used".
    """
    granted = _current_grants(purpose, now).values("profile_id")
    return Q(pk__in=granted) & Q(restricted_at__isnull=True)


def profiles_allowed_for(purpose: str, *, now: dt.datetime | None = None) -> QuerySet[Profile]:
    """The one answer to "who may be used for this purpose now" (segments, connectors)."""
    now = now or timezone.now()
    # No ordering: Profile's default one would sort the whole set for nothing.
    return Profile.objects.filter(allowed_for_q(purpose, now=now)).order_by()
