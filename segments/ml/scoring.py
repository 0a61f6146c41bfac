"""Score every eligible profile with a model's active version, in chunks, into ProfileScore.

One transaction per run: the model's rows are upserted and those of profiles no longer
eligible deleted (writer.py), so segments never read a mix of two runs. On PostgreSQL the
features come out as a binary COPY (features.read_numbers) and the scores go back in as a
binary COPY built with numpy: chunk by chunk, memory flat, no Python object per profile.
Eligible = not restricted, allowed for profiling if the model requires it, in its
population, and (scores) active within the horizon the model was trained on; nobody else
is scored.
After commit, segments that use the model are re-evaluated.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from threadpoolctl import threadpool_limits

from cdp.db import analytic_memory, refresh_planner_stats
from segments.ml import spec
from segments.ml.artifacts import pipeline_load
from segments.ml.drift import Histogram
from segments.ml.features import Layout, assemble, materialized, read_numbers, traits_query
from segments.ml.labels import eligible_profiles
from segments.ml.writer import ScoreWriter
from segments.models import ModelScoringRun, ModelVersion, ProfileScore, SegmentModel

logger = logging.getLogger(__name__)
_TABLE = ProfileScore._meta.db_table


def model_score(*, model_id: int, trigger: str = "manual", now: dt.datetime | None = None,
                chunk_rows: int | None = None) -> ModelScoringRun | None:
    """Score with the active version; None if the model is gone, disabled or untrained."""
    model = SegmentModel.objects.filter(pk=model_id, enabled=True).first()
    version = (ModelVersion.objects.filter(model_id=model_id, is_active=True,
                                           status=ModelVersion.Status.READY).first()
               if model else None)
    if model is None or version is None:
        return None
    now = now or timezone.now()
    run = ModelScoringRun.objects.create(version=version, trigger=trigger, started_at=now)
    started = time.monotonic()
    try:
        with transaction.atomic():
            # One scoring of a model at a time: the second waits, then rewrites the rows.
            SegmentModel.objects.select_for_update().filter(pk=model.pk).first()
            _relaxed_commit()
            with threadpool_limits(settings.CDP_MODEL_THREADS):
                scored, histogram = _score_all(model, version, now,
                                               chunk_rows or settings.CDP_MODEL_SCORE_CHUNK)
            refresh_planner_stats(_TABLE)
            run.psi = histogram.psi()
            run.warnings = _warnings(run.psi, scored)
            run.status, run.profiles = ModelScoringRun.Status.SUCCEEDED, scored
            run.finished_at = timezone.now()
            run.duration_ms = int((time.monotonic() - started) * 1000)
            run.save()
            transaction.on_commit(lambda: _reevaluate_segments(model.slug))
    except Exception as exc:
        run.status, run.error = ModelScoringRun.Status.FAILED, f"{type(exc).__name__}: {exc}"
        run.finished_at = timezone.now()
        run.duration_ms = int((time.monotonic() - started) * 1000)
        run.save()
        raise
    for warning in run.warnings:
        logger.warning("model %s scoring: %s", model.slug, warning)
    return run


def _relaxed_commit() -> None:
    """Scores can be computed again: this transaction need not wait for its WAL flush (a
    crash right after the commit loses the whole run, never part of it). Its big sort (the
    profiles in key order) gets the analytics work_mem, as segment evaluations do."""
    if connection.vendor == "postgresql":
        analytic_memory()
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")


def _warnings(psi: float | None, scored: int) -> list[str]:
    warnings = []
    if scored == 0:
        warnings.append("no profile was eligible (profiling consent, population, activity)")
    limit = settings.CDP_MODEL_DRIFT_PSI_WARN
    if psi is not None and psi > limit:
        warnings.append(f"scores drifted from training: PSI {psi:.3f} > {limit}")
    return warnings


def _score_all(model: SegmentModel, version: ModelVersion, now: dt.datetime,
               chunk_rows: int) -> tuple[int, Histogram]:
    pipeline = pipeline_load(version.artifact, version.artifact_sha256)
    params = spec.effective_params(model.kind, model.params)
    layout = Layout.of(version.params.get("features", model.features))
    active_since = (now - dt.timedelta(days=params["active_within_days"])
                    if model.predictive else None)
    histogram = Histogram(version.score_reference)
    writer = ScoreWriter(model_id=model.pk, version_id=version.pk,
                         predictive=model.predictive, stamp=timezone.now())
    scored = 0
    try:
        with materialized(eligible_profiles(model, now=now)) as scope:
            # In profile order: the upserts then walk the primary key index page by page.
            query = traits_query(layout, scope=scope, reference=now, as_of=False,
                                 active_since=active_since, ordered=True)
            for ids, numbers in read_numbers(query, chunk_rows):
                X = assemble(layout, ids, numbers)
                if model.predictive:
                    values = pipeline.predict_proba(X)[:, 1]
                else:
                    values = pipeline.predict(X)
                histogram.add(values)
                writer.write(ids, values)
                scored += len(ids)
            writer.finish()
    finally:
        writer.close()
    return scored, histogram


def _reevaluate_segments(slug: str) -> None:
    from segments.realtime import segments_using_models
    from segments.tasks import segment_evaluate_task

    try:
        for segment in segments_using_models([slug]):
            segment_evaluate_task.delay(segment.pk, "event")
    except Exception:
        # Their own schedules evaluate them again; scores are stored either way.
        logger.exception("re-evaluation of the segments using model %s not enqueued", slug)


def models_score_all(*, trigger: str = "schedule") -> list[int]:
    """Every enabled model with an active version (nightly, after the traits batch)."""
    done = []
    for model_id in SegmentModel.objects.filter(enabled=True, versions__is_active=True
                                                ).values_list("pk", flat=True):
        if model_score(model_id=model_id, trigger=trigger):
            done.append(model_id)
    return done


def scores_withdraw(*, profile_ids: list[uuid.UUID], now: dt.datetime | None = None
                    ) -> dict[str, Any]:
    """Delete the scores of these profiles wherever they are no longer eligible (consent
    withdrawn, objection to profiling, restriction); returns the models touched."""
    now = now or timezone.now()
    touched: dict[str, Any] = {}
    for model in SegmentModel.objects.filter(scores__profile_id__in=profile_ids).distinct():
        still = eligible_profiles(model, now=now).filter(pk__in=profile_ids)
        gone = ProfileScore.objects.filter(model=model, profile_id__in=profile_ids).exclude(
            profile_id__in=still).delete()[0]
        if gone:
            touched[model.slug] = gone
    return touched
