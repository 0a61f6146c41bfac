"""Celery entry points for computed traits: thin wrappers over segments.traits.

Both run on the default queue, the one the worker of docker-compose consumes. The nightly
batch is scheduled in cdp.settings.CELERY_BEAT_SCHEDULE.
"""

import uuid

from celery import shared_task
from django.db import OperationalError

from segments.evaluation import SegmentBusy, segment_evaluate, segment_runs_reap
from segments.models import SegmentRun
from segments.realtime import (
    profile_reevaluate_all,
    profiles_reevaluate,
    profiles_reevaluate_consent,
)
from segments.traits import traits_recompute_all, traits_refresh


# OperationalError covers deadlocks and lost connections: worth a retry, the work is
# idempotent. Profiles that vanished meanwhile simply have no events and get no row.
@shared_task(
    acks_late=True, autoretry_for=(OperationalError,), max_retries=3, retry_backoff=True
)
def traits_refresh_task(profile_ids: list[str], event_types: list[str] | None = None) -> int:
    """Recompute the traits of profiles that just received events, then re-evaluate the
    segments those events can change, for these profiles only."""
    ids = [uuid.UUID(value) for value in profile_ids]
    written = traits_refresh(profile_ids=ids)
    if event_types is not None:
        profiles_reevaluate(profile_ids=ids, event_types=event_types)
    return written


@shared_task(
    acks_late=True, autoretry_for=(OperationalError,), max_retries=5, retry_backoff=True
)
def consent_reevaluate_task(profile_ids: list[str], purposes: list[str]) -> int:
    """After consent changed: the segments reading these purposes, for these profiles only,
    so a withdrawal leaves them (and their destinations) before the next full run."""
    ids = [uuid.UUID(value) for value in profile_ids]
    return profiles_reevaluate_consent(profile_ids=ids, purposes=purposes)


@shared_task(
    acks_late=True, autoretry_for=(OperationalError,), max_retries=5, retry_backoff=True
)
def profile_reevaluate_all_task(profile_id: str) -> int:
    """After a restriction was lifted: every segment, for this profile only."""
    return profile_reevaluate_all(profile_id=uuid.UUID(profile_id))


@shared_task(
    acks_late=True, autoretry_for=(OperationalError,), max_retries=2, retry_backoff=60
)
def traits_recompute_all_task() -> int:
    """Nightly: every profile's traits and RFM, so windowed figures follow the calendar."""
    return traits_recompute_all()


@shared_task(acks_late=True, autoretry_for=(OperationalError,), max_retries=2, retry_backoff=30)
def segment_evaluate_task(segment_id: int, trigger: str = SegmentRun.Trigger.MANUAL) -> int | None:
    """Full evaluation of one segment; quietly skipped if another live run holds it."""
    try:
        run = segment_evaluate(segment_id=segment_id, trigger=trigger)
    except SegmentBusy:
        return None
    return run.pk if run else None


@shared_task(acks_late=True)
def segment_runs_reap_task() -> list[int]:
    """Fail runs whose worker died (lease expired) and evaluate those segments again."""
    segment_ids = segment_runs_reap()
    for segment_id in segment_ids:
        segment_evaluate_task.delay(segment_id, SegmentRun.Trigger.RETRY)
    return segment_ids


# Model-based segments (segments.ml). Training is CPU-bound: one retry for a lost
# connection at most; TrainingError (too little data) is recorded on the version, not raised.
@shared_task(acks_late=True, autoretry_for=(OperationalError,), max_retries=1, retry_backoff=60)
def segment_model_train_task(model_id: int, trigger: str = "manual") -> int | None:
    """Train a new version of the model (activated, then scored); its version number."""
    from segments.ml.registry import model_train

    version = model_train(model_id=model_id, trigger=trigger, actor=f"celery:{trigger}")
    return version.number if version else None


@shared_task(acks_late=True, autoretry_for=(OperationalError,), max_retries=2, retry_backoff=30)
def segment_model_score_task(model_id: int, trigger: str = "manual") -> int | None:
    """Score every eligible profile with the model's active version; profiles scored."""
    from segments.ml.scoring import model_score

    run = model_score(model_id=model_id, trigger=trigger)
    return run.profiles if run else None


@shared_task(acks_late=True)
def segment_models_score_all_task() -> list[int]:
    """Nightly, after the traits: every enabled model with an active version, in turn."""
    from segments.ml.scoring import models_score_all

    return models_score_all(trigger="schedule")


@shared_task(acks_late=True, autoretry_for=(OperationalError,), max_retries=5, retry_backoff=True)
def model_scores_withdraw_task(profile_ids: list[str]) -> dict:
    """After a withdrawal of profiling consent or a restriction: their scores go now, and
    the segments reading models are re-evaluated for them."""
    from segments.ml.scoring import scores_withdraw
    from segments.realtime import profiles_reevaluate_models

    ids = [uuid.UUID(value) for value in profile_ids]
    touched = scores_withdraw(profile_ids=ids)
    if touched:
        profiles_reevaluate_models(profile_ids=ids, slugs=list(touched))
    return touched
