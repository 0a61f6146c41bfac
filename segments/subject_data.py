"""The segments part of a data subject's archive: memberships with dates, and traits."""

import uuid
from collections.abc import Sequence
from typing import Any

from segments.models import ProfileTraits, SegmentMembership


def segment_subject_data(profile_ids: Sequence[uuid.UUID]) -> dict[str, list[dict[str, Any]]]:
    stays = SegmentMembership.objects.filter(profile_id__in=profile_ids).order_by("entered_at")
    traits = ProfileTraits.objects.filter(profile_id__in=profile_ids)
    return {
        "segment_memberships": [
            {"profile_id": str(s.profile_id), "segment": s.segment.name,
             "entered_at": s.entered_at.isoformat(),
             "exited_at": s.exited_at.isoformat() if s.exited_at else None}
            for s in stays.select_related("segment")
        ],
        "computed_traits": [
            {k: (v.isoformat() if hasattr(v, "isoformat") else str(v) if v is not None else v)
             for k, v in row.items()}
            for row in traits.values()
        ],
    }
