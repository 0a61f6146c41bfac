"""Keep scores true to consent and restriction (GDPR Art. 18, 21, 22).

A restricted profile loses every score at once, in this process. A change of the
profiling purpose queues the removal of the scores of whoever is no longer allowed, and a
re-evaluation of the segments reading models for them. Both run after the change
committed; if they are lost, the next scoring (nightly) leaves those people out anyway.
"""

import logging
import uuid
from collections.abc import Collection
from typing import Any

from django.conf import settings

from segments.models import ProfileScore

logger = logging.getLogger(__name__)
CHUNK = 5000


def scores_withdraw_on_consent(
    sender: Any, *, profile_ids: Collection[uuid.UUID], purposes: Collection[str],
    **kwargs: Any,
) -> None:
    if settings.CDP_MODEL_CONSENT_PURPOSE not in set(purposes):
        return
    ids = sorted(str(value) for value in profile_ids)
    if len(ids) <= CHUNK and not ProfileScore.objects.filter(profile_id__in=ids).exists():
        return  # nobody here has a score: the common case of a consent batch
    from segments.tasks import model_scores_withdraw_task

    try:
        for start in range(0, len(ids), CHUNK):
            model_scores_withdraw_task.delay(ids[start:start + CHUNK])
    except Exception:
        logger.exception("withdrawal of the scores of %d profiles not enqueued", len(ids))


def scores_delete_on_restriction(sender: Any, *, profile_id: uuid.UUID, **kwargs: Any) -> None:
    try:
        ProfileScore.objects.filter(profile_id=profile_id).delete()
    except Exception:
        # The restriction is committed; scoring skips restricted profiles from now on.
        logger.exception("scores of a restricted profile not deleted")
