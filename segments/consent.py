"""Consent as segment rules see it: the profile may be used for the purpose now.

One function on purpose: the meaning of the ledger (ties, expiry, restriction) lives in
cdp.privacy.consent, and every segment follows it.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Q

from cdp.privacy.consent import allowed_for_q


def consent_granted_q(purpose: str, *, now: dt.datetime) -> Q:
    """Profiles allowed for the purpose at `now`: current entry granted and unexpired, and
    the profile not restricted. No entry means no consent. Two-valued, so NOT over it
    means "not allowed"."""
    return allowed_for_q(purpose, now=now)
