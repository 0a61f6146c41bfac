"""Restriction of processing (GDPR Art. 18): keep the data, use the person for nothing.

A restricted profile fails every consent check (cdp.privacy.consent), leaves every
segment and, through the signals sent on commit, every destination. Both changes are
guarded on state (restricting twice changes nothing) and audited with their reason.
"""

import datetime as dt

from django.db import transaction
from django.utils import timezone

from cdp.audit import audit_record
from cdp.models import Profile
from cdp.signals import profile_restricted, profile_unrestricted


class ReasonRequired(ValueError):
    """A restriction (or its lifting) must say why."""


def _reason(reason: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise ReasonRequired("a reason is required")
    return text[:300]


def profile_restrict(
    *, profile: Profile, actor: str, reason: str, now: dt.datetime | None = None
) -> bool:
    """Restrict processing of the profile; False if it already was."""
    reason, now = _reason(reason), now or timezone.now()
    with transaction.atomic():
        changed = Profile.objects.filter(pk=profile.pk, restricted_at__isnull=True).update(
            restricted_at=now, restriction_reason=reason, updated_at=now
        )
        if not changed:
            return False
        audit_record(
            actor=actor, action="profile.restrict", object_type="profile",
            object_id=str(profile.pk), profile_id=profile.pk, reason=reason,
        )
        profile_id = profile.pk
        transaction.on_commit(
            lambda: profile_restricted.send(sender=Profile, profile_id=profile_id, reason=reason)
        )
    profile.restricted_at = now
    return True


def profile_unrestrict(
    *, profile: Profile, actor: str, reason: str, now: dt.datetime | None = None
) -> bool:
    """Lift the restriction; False if the profile was not restricted."""
    reason, now = _reason(reason), now or timezone.now()
    with transaction.atomic():
        restricted_at = (
            Profile.objects.select_for_update().filter(pk=profile.pk)
            .values_list("restricted_at", flat=True).first()
        )
        if restricted_at is None:
            return False
        Profile.objects.filter(pk=profile.pk).update(
            restricted_at=None, restriction_reason="", updated_at=now
        )
        audit_record(
            actor=actor, action="profile.unrestrict", object_type="profile",
            object_id=str(profile.pk), profile_id=profile.pk, reason=reason,
            details={"restricted_since": restricted_at.isoformat()},
        )
        profile_id = profile.pk
        transaction.on_commit(
            lambda: profile_unrestricted.send(
                sender=Profile, profile_id=profile_id, reason=reason
            )
        )
    profile.restricted_at = None
    return True
