"""Model writes: definitions, training into a new version, activation, drift between versions.

Every version is a row (status, parameters, metrics, charts, artifact) numbered per model;
at most one is active. A finished training activates its version by default (the previous
one stays, for the record and for a rollback with model_version_activate); activation
queues a scoring, which then re-evaluates the segments using the model.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.db.models.expressions import RawSQL
from django.utils import timezone

from cdp.audit import audit_record
from cdp.models import Profile
from cdp.schedules import cron_error, periodic_task_delete, periodic_task_set
from segments.ml import spec
from segments.ml.result import Trained, TrainingError
from segments.models import ModelVersion, SegmentModel

if TYPE_CHECKING:
    from segments.ml.features import Frame, Layout, Scope

# numpy, scikit-learn and joblib load only when a model is trained (the functions below
# import them): the web and API processes that only list or edit models stay small.

logger = logging.getLogger(__name__)
TRAIN_TASK = "segments.tasks.segment_model_train_task"
DRIFT_SAMPLE = 20_000


class SegmentModelInvalid(ValueError):
    """The model definition is refused; errors are (path, message) pairs."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{path}: {message}" for path, message in errors))
        self.errors = errors


def segment_model_resolve(ref: str) -> SegmentModel | None:
    return SegmentModel.objects.filter(slug=str(ref)).first()


def segment_model_save(
    *, actor: str, name: str, slug: str, kind: str, algorithm: str | None = None,
    features: dict[str, Any] | None = None, params: dict[str, Any] | None = None,
    population: dict[str, Any] | None = None, requires_consent: bool = True,
    train_schedule: str = "0 5 * * 1", enabled: bool = True, description: str = "",
    model: SegmentModel | None = None,
) -> SegmentModel:
    """Create or update a model definition (defaults filled in); raises SegmentModelInvalid."""
    algorithm = algorithm or spec.default_algorithm(kind)
    features = features if features is not None else spec.default_features(kind)
    params, population = params or {}, population or {}
    errors = spec.model_errors(kind=kind, algorithm=algorithm, features=features,
                               params=params, population=population)
    if error := cron_error(train_schedule):
        errors.append(("train_schedule", error))
    if model is not None and model.kind != kind and model.versions.exists():
        errors.append(("kind", "a trained model keeps its kind; create another model"))
    if errors:
        raise SegmentModelInvalid(errors)
    creating = model is None
    model = model or SegmentModel()
    with transaction.atomic():
        for field, value in (("name", name), ("slug", slug), ("kind", kind),
                             ("algorithm", algorithm), ("features", features),
                             ("params", params), ("population", population),
                             ("requires_consent", requires_consent),
                             ("train_schedule", train_schedule), ("enabled", enabled),
                             ("description", description)):
            setattr(model, field, value)
        model.save()
        periodic_task_set(name=_task_name(model.pk), schedule=train_schedule, task=TRAIN_TASK,
                          args=[model.pk, "schedule"], enabled=enabled)
        audit_record(actor=actor,
                     action="segment_model.create" if creating else "segment_model.update",
                     object_type="segment_model", object_id=str(model.pk),
                     details={"slug": slug, "kind": kind, "algorithm": algorithm,
                              "features": features, "params": params,
                              "requires_consent": requires_consent})
    return model


def segment_model_delete(*, model: SegmentModel, actor: str) -> None:
    model_id = model.pk
    with transaction.atomic():
        periodic_task_delete(_task_name(model_id))
        model.delete()
        audit_record(actor=actor, action="segment_model.delete", object_type="segment_model",
                     object_id=str(model_id), details={"slug": model.slug})


def _task_name(model_id: int) -> str:
    return f"segment-model-train:{model_id}"


def _version_start(model: SegmentModel, trigger: str, now: dt.datetime) -> ModelVersion:
    with transaction.atomic():
        SegmentModel.objects.select_for_update().filter(pk=model.pk).first()
        number = (model.versions.aggregate(n=Max("number"))["n"] or 0) + 1
        return ModelVersion.objects.create(model=model, number=number, trigger=trigger,
                                           started_at=now)


def model_train(*, model_id: int, trigger: str = "manual", actor: str = "system",
                now: dt.datetime | None = None, activate: bool = True) -> ModelVersion | None:
    """Train a new version; None if the model is gone. A TrainingError (not enough data)
    leaves a failed version with the reason; other errors are recorded and raised."""
    from threadpoolctl import threadpool_limits

    from segments.ml.artifacts import pipeline_dump
    model = SegmentModel.objects.filter(pk=model_id).first()
    if model is None:
        return None
    now = now or timezone.now()
    version = _version_start(model, trigger, now)
    started = time.monotonic()
    try:
        with threadpool_limits(settings.CDP_MODEL_THREADS):
            trained, used = _fit(model, now)
            drift = _drift(model, trained, now)
    except Exception as exc:
        version.status, version.error = ModelVersion.Status.FAILED, str(exc)[:2000]
        version.finished_at = timezone.now()
        version.duration_ms = int((time.monotonic() - started) * 1000)
        version.save()
        logger.warning("training of model %s failed: %s", model.slug, exc)
        if not isinstance(exc, TrainingError):
            raise
        return version
    data, digest = pipeline_dump(trained.pipeline)
    version.algorithm, version.params = trained.algorithm, {**used, **trained.params}
    version.metrics, version.charts = trained.metrics, trained.charts
    version.clusters, version.score_reference = trained.clusters, trained.reference
    version.warnings = list(trained.warnings)
    version.artifact, version.artifact_sha256 = data, digest
    version.drift = drift
    if version.drift.get("warning"):
        version.warnings.append(version.drift["warning"])
        logger.warning("model %s: %s", model.slug, version.drift["warning"])
    version.status = ModelVersion.Status.READY
    version.finished_at = timezone.now()
    version.duration_ms = int((time.monotonic() - started) * 1000)
    with transaction.atomic():
        version.save()
        audit_record(actor=actor, action="segment_model.train", object_type="segment_model",
                     object_id=str(model.pk),
                     details={"version": version.number, "algorithm": version.algorithm,
                              "metrics": _headline(version.metrics), "drift": version.drift,
                              "warnings": version.warnings})
        if activate:
            model_version_activate(version=version, actor=actor)
    return version


def _headline(metrics: dict[str, Any]) -> dict[str, Any]:
    keys = ("rows", "test_auc", "brier", "k", "silhouette", "davies_bouldin", "stability")
    return {k: metrics[k] for k in keys if k in metrics}


def _fit(model: SegmentModel, now: dt.datetime) -> tuple[Trained, dict[str, Any]]:
    from segments.ml.features import Layout, materialized
    from segments.ml.labels import eligible_profiles
    params = spec.effective_params(model.kind, model.params)
    layout = Layout.of(model.features)
    with materialized(eligible_profiles(model, now=now)) as scope:
        return _fit_scope(model, now, params, layout, scope)


def _fit_scope(model: SegmentModel, now: dt.datetime, params: dict[str, Any], layout: Layout,
               scope: Scope) -> tuple[Trained, dict[str, Any]]:
    from segments.ml.clustering import train_clustering
    from segments.ml.features import read_frame
    from segments.ml.labels import labels
    from segments.ml.predictive import train_predictive

    if model.kind == SegmentModel.Kind.CLUSTERING:
        frame = read_frame(layout, scope=scope, reference=now, as_of=False)
        trained = train_clustering(X=frame.X, layout=layout, features=model.features,
                                   params=params, algorithm=model.algorithm)
        return trained, {"features": model.features, "population": model.population,
                         "trained_on": now.isoformat(), **params}
    cutoff = now - dt.timedelta(days=params["horizon_days"])
    baseline = spec.BASELINE_FEATURE[model.kind]
    frame = read_frame(layout, scope=scope, reference=cutoff, as_of=True, extra=(baseline,),
                       active_since=cutoff - dt.timedelta(days=params["active_within_days"]))
    frame = _sample(frame, params["max_rows"], params["random_state"])
    y = labels(kind=model.kind, ids=frame.ids, scope=scope, cutoff=cutoff,
               horizon_days=params["horizon_days"], event=params["event"])
    trained = train_predictive(X=frame.X, y=y, baseline=frame.extra[baseline], layout=layout,
                               features=model.features, params=params,
                               algorithm=model.algorithm, baseline_name=baseline)
    return trained, {"features": model.features, "cutoff": cutoff.isoformat(),
                     "label_window_end": now.isoformat(), **params}


def _sample(frame: Frame, most: int, seed: int) -> Frame:
    import numpy as np
    if len(frame) <= most:
        return frame
    pick = np.sort(np.random.default_rng(seed).choice(len(frame), most, replace=False))
    return frame.take(pick)


def _drift(model: SegmentModel, trained: Trained, now: dt.datetime) -> dict[str, Any]:
    """The new version against the active one, both applied to today's profiles."""
    import numpy as np

    from segments.ml.artifacts import pipeline_load
    from segments.ml.drift import score_psi
    from segments.ml.features import Layout, materialized, read_frame, scope_sql
    from segments.ml.labels import eligible_profiles
    active = model.versions.filter(is_active=True, status=ModelVersion.Status.READY).first()
    if active is None or not active.artifact:
        return {}
    from sklearn.metrics import adjusted_rand_score

    with materialized(eligible_profiles(model, now=now)) as scope:
        ids = list(Profile.objects.filter(pk__in=RawSQL(*scope_sql(scope)),  # noqa: S611
                                          traits__isnull=False)
                   .order_by("?").values_list("pk", flat=True)[:DRIFT_SAMPLE])
    sample = Profile.objects.filter(pk__in=ids).values("pk")
    old_layout, new_layout = Layout.of(active.params.get("features", {})), Layout.of(
        model.features)
    old = read_frame(old_layout, scope=sample, reference=now, as_of=False)
    new = read_frame(new_layout, scope=sample, reference=now, as_of=False)
    if len(old) == 0 or len(new) == 0:
        return {"against": active.number, "profiles": 0}
    order = np.argsort(new.ids.view("S16")) if len(new) else []
    new = new.take(order)
    old = old.take(np.argsort(old.ids.view("S16")))
    previous = pipeline_load(active.artifact, active.artifact_sha256)
    if model.predictive:
        value = score_psi(previous.predict_proba(old.X)[:, 1],
                          trained.pipeline.predict_proba(new.X)[:, 1])
        limit = settings.CDP_MODEL_DRIFT_PSI_WARN
        result = {"against": active.number, "profiles": len(new), "psi": round(value, 4)}
        if value > limit:
            result["warning"] = (f"scores moved from version {active.number}: PSI "
                                 f"{value:.3f} > {limit}")
        return result
    value = adjusted_rand_score(previous.predict(old.X), trained.pipeline.predict(new.X))
    result = {"against": active.number, "profiles": len(new), "ari": round(float(value), 4)}
    if value < settings.CDP_MODEL_DRIFT_ARI_WARN:
        result["warning"] = (f"clusters differ from version {active.number}: ARI "
                             f"{value:.3f} < {settings.CDP_MODEL_DRIFT_ARI_WARN}")
    return result


def model_version_activate(*, version: ModelVersion, actor: str,
                           queue_scoring: bool = True) -> ModelVersion:
    """Make a ready version the active one and (unless the caller scores itself) queue its
    scoring after commit."""
    if version.status != ModelVersion.Status.READY:
        raise ValueError(f"version {version.number} is {version.status}, not ready")
    with transaction.atomic():
        ModelVersion.objects.filter(model_id=version.model_id, is_active=True).exclude(
            pk=version.pk).update(is_active=False)
        ModelVersion.objects.filter(pk=version.pk).update(is_active=True)
        version.is_active = True
        audit_record(actor=actor, action="segment_model.activate",
                     object_type="segment_model", object_id=str(version.model_id),
                     details={"version": version.number})
        if queue_scoring:
            transaction.on_commit(lambda: _queue_scoring(version.model_id))
    return version


def _queue_scoring(model_id: int) -> None:
    from segments.tasks import segment_model_score_task

    try:
        segment_model_score_task.delay(model_id, "activation")
    except Exception:
        # The nightly scoring catches up; the version is active either way.
        logger.exception("scoring of model %s not enqueued", model_id)


def cluster_names_set(*, version: ModelVersion, actor: str,
                      names: dict[str, str]) -> ModelVersion:
    """Name a version's clusters ({"0": "bargain hunters"}); "" removes a name."""
    known = {str(c["cluster"]) for c in version.clusters}
    unknown = sorted(set(names) - known)
    if unknown:
        raise SegmentModelInvalid([(f"cluster_names.{key}", "no such cluster in this version")
                                   for key in unknown])
    merged = {**version.cluster_names, **{k: v.strip() for k, v in names.items()}}
    version.cluster_names = {k: v for k, v in merged.items() if v}
    with transaction.atomic():
        ModelVersion.objects.filter(pk=version.pk).update(cluster_names=version.cluster_names)
        audit_record(actor=actor, action="segment_model.name_clusters",
                     object_type="segment_model", object_id=str(version.model_id),
                     details={"version": version.number, "names": version.cluster_names})
    return version
