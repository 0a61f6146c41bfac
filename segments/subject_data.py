"""The segments part of a data subject's archive: memberships with dates, traits, and the
scores models computed about them with the logic involved (GDPR Art. 15(1)(h))."""

import uuid
from collections.abc import Sequence
from typing import Any

from segments.models import ProfileScore, ProfileTraits, SegmentMembership


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
        "model_scores": model_scores(profile_ids),
    }


def model_scores(profile_ids: Sequence[uuid.UUID]) -> list[dict[str, Any]]:
    """Each score or group with the model, its version and a plain account of its logic."""
    from segments.ml.explain import model_logic

    rows = (ProfileScore.objects.filter(profile_id__in=profile_ids)
            .select_related("model", "version")
            .defer("version__artifact", "version__charts").order_by("model__slug"))
    return [
        {"profile_id": str(row.profile_id), "model": row.model.name,
         "model_slug": row.model.slug, "kind": row.model.kind,
         "version": row.version.number, "score": row.score, "cluster": row.cluster,
         "cluster_name": row.version.cluster_names.get(str(row.cluster), "")
         if row.cluster is not None else "",
         "scored_at": row.scored_at.isoformat(), "logic": model_logic(row.model, row.version)}
        for row in rows
    ]


def segment_subject_erase(profile_ids: Sequence[uuid.UUID], request: Any) -> dict[str, int]:
    """Erasure: the subject's membership history, computed traits and scores go with them."""
    return {
        "segment_memberships": SegmentMembership.objects.filter(
            profile_id__in=profile_ids
        ).delete()[0],
        "computed_traits": ProfileTraits.objects.filter(profile_id__in=profile_ids).delete()[0],
        "model_scores": ProfileScore.objects.filter(profile_id__in=profile_ids).delete()[0],
    }
