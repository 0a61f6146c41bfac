"""Signal receivers of the segments app: keep computed traits fresh as events arrive, and
memberships true to consent and restriction."""

import logging
import uuid
from collections.abc import Collection
from typing import Any

from segments.realtime import profile_segments_leave, segments_using_consent
from segments.tasks import consent_reevaluate_task, profile_reevaluate_all_task, traits_refresh_task
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


def consent_reevaluate_on_change(
    sender: Any, *, profile_ids: Collection[uuid.UUID], purposes: Collection[str],
    **kwargs: Any,
) -> None:
    """Enqueue a re-evaluation of the segments reading these purposes, for these profiles.

    consent_changed is sent after commit. If no segment reads the purposes, nothing is
    enqueued. A lost enqueue is logged: the next full run still drops a withdrawn profile,
    and connectors check consent through the same selector before sending anyone.
    """
    if not segments_using_consent(purposes):
        return
    ids = sorted(str(value) for value in profile_ids)
    try:
        for start in range(0, len(ids), CHUNK_SIZE):
            consent_reevaluate_task.delay(ids[start : start + CHUNK_SIZE], sorted(purposes))
    except Exception:
        logger.exception("consent re-evaluation of %d profiles not enqueued", len(ids))


def segments_leave_on_restriction(sender: Any, *, profile_id: uuid.UUID, **kwargs: Any) -> None:
    """A restricted profile leaves every segment now, in this process: no broker involved."""
    try:
        profile_segments_leave(profile_id=profile_id)
    except Exception:
        # The restriction is committed: the next run of each segment drops the profile
        # (evaluation skips restricted profiles), and connectors check the selector.
        logger.exception("restricted profile not taken out of its segments")


def segments_reenter_on_unrestriction(
    sender: Any, *, profile_id: uuid.UUID, **kwargs: Any
) -> None:
    """A profile whose restriction was lifted is evaluated again by every segment."""
    try:
        profile_reevaluate_all_task.delay(str(profile_id))
    except Exception:
        # The next full run of each segment takes the profile back where it belongs.
        logger.exception("re-evaluation of an unrestricted profile not enqueued")


# Above this many changed profiles (a batch resolution), every segment is re-evaluated
# whole rather than profile by profile.
IDENTITY_BULK = 1000


def segments_refresh_on_identity_change(
    sender: Any, *, profile_ids: Collection[uuid.UUID], **kwargs: Any
) -> None:
    """Profiles gained or lost records (and their events): recompute their traits, then
    their memberships. Merged-away profiles are gone with their memberships already."""
    from celery import chain

    from segments.models import Segment
    from segments.tasks import segment_evaluate_task

    ids = sorted(str(value) for value in profile_ids)
    try:
        if len(ids) > IDENTITY_BULK:
            steps = [traits_refresh_task.si(ids[s : s + CHUNK_SIZE], None)
                     for s in range(0, len(ids), CHUNK_SIZE)]
            steps += [segment_evaluate_task.si(pk, "event") for pk in
                      Segment.objects.filter(enabled=True).values_list("pk", flat=True)]
        else:
            steps = [traits_refresh_task.si(ids, None)]
            steps += [profile_reevaluate_all_task.si(pid) for pid in ids]
        chain(*steps).delay()
    except Exception:
        # Committed already: the nightly traits batch and scheduled runs catch up.
        logger.exception("segment refresh after an identity change not enqueued")
