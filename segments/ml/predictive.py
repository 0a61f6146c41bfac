"""Predictive scores (propensity to purchase, churn): compare, calibrate, keep the evidence.

1. The labelled rows are split once: a stratified test share is kept aside.
2. On the rest, logistic regression, random forest and histogram gradient boosting (each a
   full Pipeline: preprocessing + classifier, so no fold sees another's statistics) are
   compared by k-fold cross-validated ROC AUC, beside a recency-only baseline. The best
   wins, unless a cheaper one to run is within one standard error of it.
3. Class imbalance: every classifier weighs classes inversely to their frequency
   (class_weight="balanced"), which ranks well but distorts probabilities; so
4. the winner is calibrated (isotonic with at least 1,000 positives, else Platt/sigmoid)
   on cross-validated predictions, and the calibrated model is judged on the untouched
   test share: ROC AUC, Brier score, calibration curve. That model is the one deployed.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV, calibration_curve
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score, roc_curve
from sklearn.model_selection import StratifiedKFold, cross_validate, train_test_split
from sklearn.pipeline import Pipeline

from segments.ml import charts
from segments.ml.drift import reference_bins
from segments.ml.features import Layout
from segments.ml.preprocess import preprocessor
from segments.ml.result import Trained, TrainingError

CANDIDATES = ("logistic", "random_forest", "gradient_boosting")
# Scoring cost per profile: a dot product, ~200 shallow trees in C, 100 deep trees.
CHEAPEST_FIRST = ("logistic", "gradient_boosting", "random_forest")
MIN_CLASS_ROWS = 10
ISOTONIC_MIN_POSITIVES = 1000


def classifier(name: str, params: dict[str, Any]) -> Any:
    seed = params["random_state"]
    if name == "logistic":
        return LogisticRegression(class_weight="balanced", max_iter=2000)
    if name == "random_forest":
        return RandomForestClassifier(
            n_estimators=params["n_estimators"], min_samples_leaf=20, max_features="sqrt",
            class_weight="balanced_subsample", random_state=seed)
    return HistGradientBoostingClassifier(
        max_iter=params["max_iter"], learning_rate=0.1, min_samples_leaf=20,
        class_weight="balanced", random_state=seed)


def _pipeline(layout: Layout, features: dict[str, Any], model: Any) -> Pipeline:
    return Pipeline([("features", preprocessor(layout, features)), ("model", model)])


def _check(y: np.ndarray) -> None:
    positives = int(y.sum())
    if min(positives, len(y) - positives) < MIN_CLASS_ROWS:
        raise TrainingError(
            f"{len(y)} labelled profiles with {positives} positive: at least "
            f"{MIN_CLASS_ROWS} of each class are needed")


def train_predictive(*, X: np.ndarray, y: np.ndarray, baseline: np.ndarray, layout: Layout,
                     features: dict[str, Any], params: dict[str, Any], algorithm: str,
                     baseline_name: str) -> Trained:
    """Compare, calibrate and evaluate; the returned pipeline is fitted and calibrated."""
    _check(y)
    seed = params["random_state"]
    index = np.arange(len(y))
    train, test = train_test_split(index, test_size=params["test_share"], stratify=y,
                                   random_state=seed)
    _check(y[train])
    folds = StratifiedKFold(params["cv_folds"], shuffle=True, random_state=seed)
    names = CANDIDATES if algorithm == "best" else (algorithm,)
    candidates = {name: _cross_validate(_pipeline(layout, features, classifier(name, params)),
                                        X[train], y[train], folds) for name in names}
    base_layout = Layout((baseline_name,))
    base = _pipeline(base_layout, {"log": True}, classifier("logistic", params))
    base_x = baseline.reshape(-1, 1)
    base_cv = _cross_validate(base, base_x[train], y[train], folds)
    chosen = choose(candidates, params["cv_folds"])

    positives = int(y[train].sum())
    method = params["calibration"]
    if method == "auto":
        method = "isotonic" if positives >= ISOTONIC_MIN_POSITIVES else "sigmoid"
    calibrated = CalibratedClassifierCV(classifier(chosen, params), method=method, cv=folds,
                                        ensemble=False)
    pipeline = _pipeline(layout, features, calibrated)
    started = time.monotonic()
    pipeline.fit(X[train], y[train])
    fit_s = time.monotonic() - started
    scores = pipeline.predict_proba(X[test])[:, 1]
    raw = _pipeline(layout, features, classifier(chosen, params)).fit(X[train], y[train])
    raw_scores = raw.predict_proba(X[test])[:, 1]
    base.fit(base_x[train], y[train])
    base_scores = base.predict_proba(base_x[test])[:, 1]

    prevalence = float(y.mean())
    frac, mean_pred = calibration_curve(y[test], scores, n_bins=10, strategy="quantile")
    metrics = {
        "rows": len(y), "train_rows": len(train), "test_rows": len(test),
        "positive_rate": round(prevalence, 4),
        "imbalance": "class_weight=balanced for every classifier, then calibration",
        "candidates": candidates, "chosen": chosen, "calibration": method,
        "selection": "best cross-validated AUC; a cheaper model within one standard error "
                     "of it wins (logistic, then gradient boosting, then random forest)",
        "baseline": {"feature": baseline_name, **base_cv,
                     "test_auc": _round(roc_auc_score(y[test], base_scores))},
        "test_auc": _round(roc_auc_score(y[test], scores)),
        "brier": _round(brier_score_loss(y[test], scores)),
        "brier_uncalibrated": _round(brier_score_loss(y[test], raw_scores)),
        # What always answering the base rate would score: the bar to clear.
        "brier_base_rate": _round(prevalence * (1 - prevalence)),
        "calibration_curve": [[_round(p), _round(f)] for p, f in zip(mean_pred, frac,
                                                                        strict=True)],
        "fit_s": round(fit_s, 3),
    }
    fpr, tpr, _ = roc_curve(y[test], scores)
    bfpr, btpr, _ = roc_curve(y[test], base_scores)
    drawn = {
        "roc": charts.roc_chart(
            {f"{chosen} (AUC {metrics['test_auc']:.3f})": (fpr, tpr),
             f"recency only (AUC {metrics['baseline']['test_auc']:.3f})": (bfpr, btpr)}),
        "calibration": charts.calibration_chart(mean_pred, frac, method),
        "comparison": charts.bar_chart(
            "Cross-validated ROC AUC",
            {**{n: c["cv_auc"] for n, c in candidates.items()},
             "recency only": base_cv["cv_auc"]}),
    }
    reference = reference_bins(pipeline.predict_proba(X)[:, 1])
    warnings = []
    if metrics["test_auc"] <= metrics["baseline"]["test_auc"]:
        warnings.append("the model does not beat the recency-only baseline on the test share")
    return Trained(pipeline, chosen, {"calibration": method}, metrics, drawn, reference,
                   warnings=warnings)


def choose(candidates: dict[str, dict[str, float]], folds: int) -> str:
    """The highest cross-validated AUC, unless a cheaper model to run is within one
    standard error of it (the one-standard-error rule): a difference the folds cannot
    tell from noise is not worth scoring a million profiles ten times slower."""
    best = max(candidates, key=lambda n: candidates[n]["cv_auc"])
    margin = candidates[best]["cv_auc_std"] / math.sqrt(folds)
    return next(n for n in CHEAPEST_FIRST if n in candidates
                and candidates[n]["cv_auc"] >= candidates[best]["cv_auc"] - margin)


def _cross_validate(pipeline: Pipeline, X: np.ndarray, y: np.ndarray,
                    folds: StratifiedKFold) -> dict[str, float]:
    result = cross_validate(pipeline, X, y, cv=folds, scoring="roc_auc")
    return {"cv_auc": _round(result["test_score"].mean()),
            "cv_auc_std": _round(result["test_score"].std()),
            "fit_s": round(float(result["fit_time"].mean()), 3)}


def _round(value: float) -> float:
    return round(float(value), 4)
