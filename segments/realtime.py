"""Real-time re-evaluation: after events arrive, the segments they can affect are
re-evaluated for those profiles only (full runs stay on their schedule)."""

import uuid
from collections.abc import Collection
from datetime import datetime

from django.db.models import QuerySet

from segments.evaluation import segment_evaluate_profiles
from segments.models import Segment
from segments.rules.walk import iter_conditions


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
