"""The identity part of a subject's archive and of its erasure."""

import uuid
from collections.abc import Sequence
from typing import Any

from django.db.models import Q

from identity.models import IdentityEvent, ProfileRedirect


def identity_subject_data(profile_ids: Sequence[uuid.UUID]) -> dict[str, list[dict[str, Any]]]:
    """How the subject's profile came to be: merges, splits, unmerges (ids only)."""
    events = IdentityEvent.objects.filter(
        Q(profile_id__in=profile_ids) | Q(other_profile_id__in=profile_ids)).order_by("at")
    return {"identity_events": [
        {"at": e.at.isoformat(), "kind": e.kind, "profile_id": str(e.profile_id),
         "other_profile_id": str(e.other_profile_id) if e.other_profile_id else None,
         "records": len(e.record_ids), "rule": e.rule, "score": e.score}
        for e in events]}


def identity_subject_erase(profile_ids: Sequence[uuid.UUID], request: Any) -> dict[str, int]:
    """Erasure: the subject's identity history and the redirects to or from them go."""
    ids = list(profile_ids)
    events = IdentityEvent.objects.filter(
        Q(profile_id__in=ids) | Q(other_profile_id__in=ids)).delete()[0]
    redirects = ProfileRedirect.objects.filter(Q(new_id__in=ids) | Q(old_id__in=ids)).delete()[0]
    return {"identity_events": events, "profile_redirects": redirects}
