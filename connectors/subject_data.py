"""The connectors part of a subject's archive: recipients (GDPR Art. 15(1)(c)) and when."""

import uuid
from collections.abc import Sequence
from typing import Any

from connectors.models import SyncMember


def connectors_subject_data(profile_ids: Sequence[uuid.UUID]) -> dict[str, list[dict[str, Any]]]:
    rows = (SyncMember.objects.filter(profile_id__in=profile_ids)
            .select_related("sync__destination", "sync__segment").order_by("updated_at"))
    return {
        "recipients": [
            {"profile_id": str(r.profile_id), "destination": r.sync.destination.name,
             "kind": r.sync.destination.kind, "segment": r.sync.segment.slug,
             "purpose": r.sync.destination.purpose_id, "in_audience": r.in_container,
             "status": r.status, "last_sent_at": r.updated_at.isoformat()}
            for r in rows
        ],
    }
