"""Consent as segment rules see it: the current state of a purpose for each profile.

One function on purpose: the privacy issue takes it over (lawful bases, channels,
destinations) and every segment follows.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Exists, OuterRef, Q

from cdp.models import ConsentEntry


def consent_granted_q(purpose: str, *, now: dt.datetime) -> Q:
    """Profiles whose latest entry for the purpose (captured_at, then id) is "granted".

    Entries captured after `now` are not known yet at `now`. No entry means no consent.
    Written as `pk IN (granted entries with no later entry)`: PostgreSQL runs it as one
    anti-join over the ledger instead of a lookup per profile. Two-valued, so NOT over it
    means "not granted".
    """
    known = ConsentEntry.objects.filter(purpose=purpose, captured_at__lte=now)
    later = known.filter(profile=OuterRef("profile")).filter(
        Q(captured_at__gt=OuterRef("captured_at"))
        | Q(captured_at=OuterRef("captured_at"), id__gt=OuterRef("id"))
    )
    latest_granted = known.filter(status=ConsentEntry.Status.GRANTED).exclude(Exists(later))
    return Q(pk__in=latest_granted.values("profile_id"))
