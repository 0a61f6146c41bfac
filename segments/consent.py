"""Consent as segment rules see it: the current state of a purpose for each profile.

One function on purpose: the privacy issue takes it over (lawful bases, channels,
destinations) and every segment follows.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.db.models.lookups import Exact

from cdp.models import ConsentEntry


def consent_granted_q(purpose: str, *, now: dt.datetime) -> Q:
    """Profiles whose latest entry for the purpose (captured_at, then id) is "granted".

    Entries captured after `now` are not known yet at `now`. No entry means no consent;
    COALESCE keeps the comparison two-valued so NOT over it means "not granted".
    """
    latest = (
        ConsentEntry.objects.filter(profile=OuterRef("pk"), purpose=purpose, captured_at__lte=now)
        .order_by("-captured_at", "-id")
        .values("status")[:1]
    )
    return Q(Exact(Coalesce(Subquery(latest), Value("")), ConsentEntry.Status.GRANTED))
