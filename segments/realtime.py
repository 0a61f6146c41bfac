"""Real-time re-evaluation: after events arrive or consent changes, the segments that can
change are re-evaluated for those profiles only (full runs stay on their schedule); a
restricted profile leaves every segment at once."""

import uuid
from collections.abc import Collection
from datetime import datetime

from django.db import transaction
from django.db.models import F, QuerySet
from django.db.models.functions import Greatest
from django.utils import timezone

from segments.evaluation import segment_evaluate_profiles
from segments.models import Segment, SegmentMembership
from segments.rules.walk import iter_conditions
from segments.signals import membership_changed


def _uses_traits(segment: Segment) -> bool:
    return any("trait" in node for _, node in iter_conditions(segment.definition))


def segments_affected(event_types: Collection[str]) -> list[Segment]:
    """Enabled segments with an event condition on one of these types, or a trait one."""
    wanted = set(event_types)
    candidates: QuerySet[Segment] = Segment.objects.filter(enabled=True)
    return [s for s in candidates if wanted & set(s.event_types) or _uses_traits(s)]


def profiles_reevaluate(
    *, profile_ids: Collection[uuid.UUID], event_types: Collection[str],
    now: datetime | None = None,
) -> int:
    """Returns how many memberships changed."""
    changed = 0
    for segment in segments_affected(event_types):
        added, removed = segment_evaluate_profiles(
            segment=segment, profile_ids=profile_ids, now=now
        )
        changed += added + removed
    return changed


def _consent_purposes(segment: Segment) -> set[str]:
    return {
        node["consent"] for _, node in iter_conditions(segment.definition)
        if isinstance(node.get("consent"), str)
    }


def segments_using_consent(purposes: Collection[str] | None = None) -> list[Segment]:
    """Enabled segments with a consent condition (on one of `purposes`, if given), then the
    segments built on them, dependencies first."""
    wanted = None if purposes is None else set(purposes)
    chosen = [
        s for s in Segment.objects.filter(enabled=True)
        if (used := _consent_purposes(s)) and (wanted is None or used & wanted)
    ]
    return _with_dependents(chosen)


def _with_dependents(roots: list[Segment]) -> list[Segment]:
    ordered, seen, frontier = list(roots), {s.pk for s in roots}, [s.pk for s in roots]
    while frontier:
        users = list(
            Segment.objects.filter(enabled=True, depends_on__in=frontier)
            .exclude(pk__in=seen).distinct().order_by("pk")
        )
        ordered.extend(users)
        seen.update(s.pk for s in users)
        frontier = [s.pk for s in users]
    return ordered


def profiles_reevaluate_consent(
    *, profile_ids: Collection[uuid.UUID], purposes: Collection[str] | None = None,
    now: datetime | None = None,
) -> int:
    """Re-evaluate the segments that read these purposes (all consent segments for None)
    for these profiles; returns how many memberships changed."""
    changed = 0
    for segment in segments_using_consent(purposes):
        added, removed = segment_evaluate_profiles(
            segment=segment, profile_ids=profile_ids, now=now
        )
        changed += added + removed
    return changed


def profile_reevaluate_all(*, profile_id: uuid.UUID, now: datetime | None = None) -> int:
    """Re-evaluate every enabled segment for one profile (its restriction was lifted)."""
    roots = list(Segment.objects.filter(enabled=True, depends_on__isnull=True).order_by("pk"))
    changed = 0
    for segment in _with_dependents(roots):
        added, removed = segment_evaluate_profiles(
            segment=segment, profile_ids=[profile_id], now=now
        )
        changed += added + removed
    return changed


def profile_segments_leave(*, profile_id: uuid.UUID, now: datetime | None = None) -> int:
    """Close every open stay of the profile (it was restricted); returns how many closed.

    Sizes follow and membership_changed announces each segment after commit, so
    connectors remove the person at the destinations.
    """
    now = now or timezone.now()
    with transaction.atomic():
        stays = SegmentMembership.objects.filter(profile_id=profile_id, exited_at__isnull=True)
        segment_ids = list(stays.values_list("segment_id", flat=True))
        closed = stays.update(exited_at=now)
        # One open stay per segment and profile (a constraint): each size loses one.
        Segment.objects.filter(pk__in=segment_ids).update(size=Greatest(F("size") - 1, 0))
        for segment_id in segment_ids:
            transaction.on_commit(
                lambda sid=segment_id: membership_changed.send(
                    sender=Segment, segment_id=sid, run_id=None, added=0, removed=1
                )
            )
    return closed


def _models_used(segment: Segment) -> set[str]:
    return {
        node["model"] for _, node in iter_conditions(segment.definition)
        if isinstance(node.get("model"), str)
    }


def segments_using_models(slugs: Collection[str]) -> list[Segment]:
    """Enabled segments with a condition on one of these models, then the segments built
    on them, dependencies first (re-evaluated after a model scored)."""
    wanted = set(slugs)
    chosen = [s for s in Segment.objects.filter(enabled=True).order_by("pk")
              if _models_used(s) & wanted]
    return _with_dependents(chosen)


def profiles_reevaluate_models(
    *, profile_ids: Collection[uuid.UUID], slugs: Collection[str], now: datetime | None = None,
) -> int:
    """Re-evaluate the segments reading these models for these profiles only."""
    changed = 0
    for segment in segments_using_models(slugs):
        added, removed = segment_evaluate_profiles(
            segment=segment, profile_ids=profile_ids, now=now
        )
        changed += added + removed
    return changed
