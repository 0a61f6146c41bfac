"""On arrival: records that changed are matched, and their profiles' golden records
refreshed, by a Celery task."""

import logging
from typing import Any

from identity.tasks import identity_match_task

logger = logging.getLogger(__name__)
CHUNK = 500


def match_on_arrival(sender: Any, *, source_id: int, external_ids: list[str],
                     **kwargs: Any) -> None:
    """Without a trained model there is nothing to score with (ingestion's own linking
    on strong identifiers stands until the first training and full run), but golden
    records still follow the records."""
    try:
        for start in range(0, len(external_ids), CHUNK):
            identity_match_task.delay(source_id, external_ids[start : start + CHUNK])
    except Exception:
        # Committed already: the nightly full resolution matches whatever was missed.
        logger.exception("identity matching of %d records not enqueued", len(external_ids))
