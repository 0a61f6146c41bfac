"""Signal receivers of the segments app: keep computed traits fresh as events arrive."""

import logging
import uuid
from collections.abc import Collection
from typing import Any

from segments.tasks import traits_refresh_task
from segments.traits import CHUNK_SIZE

logger = logging.getLogger(__name__)


def traits_refresh_on_ingest(
    sender: Any, *, profile_ids: Collection[uuid.UUID], event_types: Collection[str] = (),
    **kwargs: Any,
) -> None:
    """Enqueue a refresh of the profiles that got events, in chunks of CHUNK_SIZE.

    events_ingested is sent after commit, so the worker sees the new events.
    """
    ids = sorted(str(value) for value in profile_ids)
    try:
        for start in range(0, len(ids), CHUNK_SIZE):
            traits_refresh_task.delay(ids[start : start + CHUNK_SIZE], sorted(event_types))
    except Exception:
        # The events are already committed: failing the request would only make the client
        # resend them. The nightly batch repairs the traits a lost refresh left stale.
        logger.exception("traits refresh of %d profiles not enqueued", len(ids))
