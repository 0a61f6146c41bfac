"""Predictive models: three classifiers compared by cross-validated ROC AUC against a
recency-only baseline, the winner calibrated, imbalance handled, evidence kept."""

import datetime as dt
import random
from xml.etree import ElementTree

import numpy as np
import pytest

from cdp.demo.generator import generate
from cdp.demo.loading import demo_load
from segments.ml.artifacts import pipeline_load
from segments.ml.features import Layout, read_frame
from segments.ml.registry import model_train, segment_model_save
from segments.models import ModelVersion
from tests.segments.ml_data import DAY, NOW, event, profiles, propensity_data, save

pytestmark = pytest.mark.django_db


def _model(kind="propensity", **extra):
    return segment_model_save(actor="test", name=kind, slug=kind, kind=kind, **extra)


def _svg(document: str) -> ElementTree.Element:
    root = ElementTree.fromstring(document)  # noqa: S314 - our own charts
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return root


def test_a_version_keeps_the_comparison_calibration_and_a_working_artifact():
    propensity_data(count=500)
    model = _model(params={"n_estimators": 30, "max_iter": 50})
    version = model_train(model_id=model.pk, now=NOW)
    assert version.status == ModelVersion.Status.READY, version.error
    m = version.metrics
    assert set(m["candidates"]) == {"logistic", "random_forest", "gradient_boosting"}
    best = max(m["candidates"].values(), key=lambda c: c["cv_auc"])
    assert m["candidates"][m["chosen"]]["cv_auc"] >= best["cv_auc"] - best["cv_auc_std"]
    # Here the past rate is all there is to learn, and recency sees most of it. Judged on
    # the 5-fold AUC: the held-out split (~100 people) is noisy (0.68 seen by luck).
    assert m["candidates"][m["chosen"]]["cv_auc"] > 0.7 and m["test_auc"] > 0.6
    assert m["baseline"]["cv_auc"] > 0.6
    assert m["baseline"]["feature"] == "days_since_last_purchase"
    assert m["calibration"] == "sigmoid"  # fewer than 1,000 positives: Platt scaling
    assert 0 < m["brier"] < m["brier_base_rate"]
    assert len(m["calibration_curve"]) >= 5
    assert version.params["cutoff"] == (NOW - 30 * DAY).isoformat()
    assert {"roc", "calibration", "comparison"} <= set(version.charts)
    for document in version.charts.values():
        _svg(document)
    assert version.is_active and len(version.artifact_sha256) == 64
    pipeline = pipeline_load(version.artifact, version.artifact_sha256)
    frame = read_frame(Layout.of(model.features), scope=_all(), reference=NOW, as_of=True)
    scores = pipeline.predict_proba(frame.X)[:, 1]
    assert ((scores >= 0) & (scores <= 1)).all() and scores.std() > 0.05
    assert sum(shares for shares in version.score_reference["shares"]) == pytest.approx(1)


def _all():
    from cdp.models import Profile

    return Profile.objects.order_by().values("pk")


def test_a_cheaper_model_within_one_standard_error_wins():
    from segments.ml.predictive import choose

    scores = {"random_forest": {"cv_auc": 0.80, "cv_auc_std": 0.02},
              "gradient_boosting": {"cv_auc": 0.795, "cv_auc_std": 0.02},
              "logistic": {"cv_auc": 0.75, "cv_auc_std": 0.01}}
    assert choose(scores, 5) == "gradient_boosting"  # 0.795 >= 0.80 - 0.02 / sqrt(5)
    assert choose({**scores, "gradient_boosting": {"cv_auc": 0.78, "cv_auc_std": 0}},
                  5) == "random_forest"
    assert choose({**scores, "logistic": {"cv_auc": 0.795, "cv_auc_std": 0}}, 5) == "logistic"


def test_rare_positives_are_weighted_and_still_ranked():
    """10% positives: balanced class weights and a calibrated probability near the rate."""
    rng = random.Random(3)
    people = profiles(400)
    events = []
    for i, person in enumerate(people):
        buyer = i % 10 == 0
        for _ in range(8 if buyer else 2):
            events.append(event(person, "purchase", NOW - rng.uniform(31, 120) * DAY, 30))
        if buyer:
            events.append(event(person, "purchase", NOW - rng.uniform(1, 29) * DAY, 30))
    save(events)
    version = model_train(model_id=_model(algorithm="logistic").pk, now=NOW)
    assert version.status == "ready", version.error
    assert version.metrics["positive_rate"] == pytest.approx(0.1, abs=0.01)
    assert version.metrics["test_auc"] > 0.9
    pipeline = pipeline_load(version.artifact, version.artifact_sha256)
    frame = read_frame(Layout.of(version.params["features"]), scope=_all(),
                       reference=NOW - 30 * DAY, as_of=True)
    assert pipeline.predict_proba(frame.X)[:, 1].mean() == pytest.approx(0.1, abs=0.05)


def test_churn_learns_who_goes_quiet():
    rng = random.Random(4)
    people = profiles(300)
    events = []
    for i, person in enumerate(people):
        fading = i % 2 == 0
        for _ in range(10):
            ago = rng.uniform(120, 300) if fading else rng.uniform(31, 300)
            events.append(event(person, "page_view", NOW - ago * DAY))
        if not fading or rng.random() < 0.2:
            events.append(event(person, "page_view", NOW - rng.uniform(1, 29) * DAY))
    save(events)
    version = model_train(model_id=_model("churn", algorithm="logistic").pk, now=NOW)
    assert version.status == "ready", version.error
    assert version.metrics["baseline"]["feature"] == "days_since_last_activity"
    assert version.metrics["test_auc"] > 0.8


def test_too_little_data_fails_the_version_with_the_reason():
    people = profiles(30)
    save([event(p, "purchase", NOW - 40 * DAY) for p in people])  # nobody buys again
    version = model_train(model_id=_model().pk, now=NOW)
    assert version.status == ModelVersion.Status.FAILED and not version.is_active
    assert "at least 10 of each class" in version.error


def test_only_profiles_allowed_for_profiling_are_learnt_from():
    allowed = propensity_data(count=200)
    refused = profiles(100, consent=False)
    save([event(p, "purchase", NOW - 40 * DAY) for p in refused])
    version = model_train(model_id=_model(algorithm="logistic").pk, now=NOW)
    active_allowed = {p.pk for p in allowed}
    assert version.metrics["rows"] <= len(active_allowed)
    open_model = _model("churn", algorithm="logistic", requires_consent=False)
    everyone = model_train(model_id=open_model.pk, now=NOW)
    assert everyone.metrics["rows"] > version.metrics["rows"]


def test_the_demo_data_plants_a_purchase_signal_recency_alone_misses(settings):
    """generate_demo's planted intent (newsletter clicks before purchases) and personas."""
    as_of = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    demo_load(customers=generate(customers=700, seed=11, as_of=as_of), actor="test")
    model = _model(requires_consent=False, params={"n_estimators": 30, "max_iter": 50})
    version = model_train(model_id=model.pk, now=as_of)
    assert version.status == "ready", version.error
    m = version.metrics
    best = m["candidates"][m["chosen"]]["cv_auc"]
    # The benchmark measures it on more data (README: Model segments); 700 customers vary.
    assert best > 0.72 and best > m["baseline"]["cv_auc"] + 0.03
    assert np.isfinite(m["brier"])
