"""What a model definition may say: features, algorithm, training knobs, population.

Validation returns every problem as (JSON path, message), like segment rules; defaults
fill what a definition leaves out, so `{"kind": "propensity"}` alone is a usable model.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from segments.models import SegmentModel
from segments.rules.vocabulary import (
    ATTRIBUTE_PREFIX,
    ENCRYPTED_ATTRIBUTES,
    TEXT_ATTRIBUTES,
    attribute_key,
    traits,
)

Kind = SegmentModel.Kind
Algorithm = SegmentModel.Algorithm
Found = tuple[str, str]

CLUSTERING_ALGORITHMS = (Algorithm.KMEANS, Algorithm.GMM, Algorithm.DBSCAN,
                         Algorithm.AGGLOMERATIVE)
PREDICTIVE_ALGORITHMS = (Algorithm.BEST, Algorithm.LOGISTIC, Algorithm.FOREST,
                         Algorithm.BOOSTING)
# Derived features: whole days between the trait's moment and the reference time.
DAYS_SINCE: dict[str, str] = {
    "days_since_last_purchase": "last_purchase_at",
    "days_since_last_activity": "last_activity_at",
    "days_since_first_purchase": "first_purchase_at",
}
# Ranks over the whole base at the last nightly batch: no value "as of" a past cutoff.
RANK_TRAITS = ("rfm_recency", "rfm_frequency", "rfm_monetary", "rfm_score")
SCALINGS = ("standard", "minmax")

PREDICTIVE_FEATURES = (
    "purchase_count", "purchase_count_30d", "purchase_count_90d", "purchase_count_365d",
    "revenue_365d", "avg_basket", "days_since_last_purchase", "days_since_last_activity",
    "days_since_first_purchase", "email_opens_30d", "email_clicks_30d",
)
CLUSTERING_FEATURES = ("purchase_count", "avg_basket")
# Recency-only baseline of the predictive comparison.
BASELINE_FEATURE = {Kind.PROPENSITY: "days_since_last_purchase",
                    Kind.CHURN: "days_since_last_activity"}


@dataclass(frozen=True)
class Param:
    default: Any
    kind: type
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()


_COMMON = {"random_state": Param(0, int, 0, 2**31 - 1)}
PARAMS: dict[str, dict[str, Param]] = {
    "clustering": {
        **_COMMON,
        "k": Param(None, int, 2, 50),  # fixed k; None: chosen over k_min..k_max
        "k_min": Param(2, int, 2, 50),
        "k_max": Param(8, int, 2, 50),
        "sample_size": Param(20000, int, 100, 2_000_000),
        "silhouette_sample": Param(3000, int, 100, 20000),
        "bootstrap": Param(5, int, 0, 50),
        "min_samples": Param(None, int, 2, 1000),  # DBSCAN; None: 2 x features
        "ward_sample": Param(5000, int, 100, 20000),
        "max_iter": Param(300, int, 10, 10000),
    },
    "predictive": {
        **_COMMON,
        "horizon_days": Param(30, int, 1, 730),
        "event": Param("purchase", str),  # propensity: the event that counts as buying
        "active_within_days": Param(365, int, 1, 3650),
        "cv_folds": Param(5, int, 2, 10),
        "test_share": Param(0.2, float, 0.05, 0.5),
        "max_rows": Param(200000, int, 100, 5_000_000),
        "n_estimators": Param(100, int, 10, 1000),
        "max_iter": Param(200, int, 10, 2000),
        "calibration": Param("auto", str, choices=("auto", "isotonic", "sigmoid")),
    },
}


def param_group(kind: str) -> str:
    return "clustering" if kind == Kind.CLUSTERING else "predictive"


@cache
def numeric_traits() -> tuple[str, ...]:
    """Trait columns usable as they are: the numeric ProfileTraits columns."""
    return tuple(name for name, t in traits().items()
                 if t.kind == "number" and name == t.column)


def trait_names(kind: str) -> tuple[str, ...]:
    names = numeric_traits() + tuple(DAYS_SINCE)
    if kind != Kind.CLUSTERING:
        names = tuple(n for n in names if n not in RANK_TRAITS)
    return names


def default_features(kind: str) -> dict[str, Any]:
    chosen = CLUSTERING_FEATURES if kind == Kind.CLUSTERING else PREDICTIVE_FEATURES
    return {"traits": list(chosen), "attributes": [], "numeric_attributes": [],
            "scaling": "standard", "log": True}


def default_algorithm(kind: str) -> str:
    return Algorithm.KMEANS if kind == Kind.CLUSTERING else Algorithm.BEST


def effective_params(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """The model's params with every default filled in."""
    return {name: params.get(name, p.default) for name, p in PARAMS[param_group(kind)].items()}


def model_errors(*, kind: str, algorithm: str, features: Any, params: Any,
                 population: Any) -> list[Found]:
    """Every problem of a model definition; [] when it can be saved and trained."""
    if kind not in Kind.values:
        return [("kind", f"must be one of {', '.join(Kind.values)}")]
    allowed = CLUSTERING_ALGORITHMS if kind == Kind.CLUSTERING else PREDICTIVE_ALGORITHMS
    found: list[Found] = []
    if algorithm not in allowed:
        found.append(("algorithm", f"a {kind} model uses one of {', '.join(allowed)}"))
    found += list(_feature_errors(kind, features))
    found += list(_param_errors(kind, params))
    if population and kind != Kind.CLUSTERING:
        found.append(("population", "only clustering models take a population rule: "
                      "predictive models learn on everyone active before the cutoff"))
    elif population:
        found += _population_errors(population)
    return found


def _feature_errors(kind: str, features: Any) -> Iterator[Found]:
    if not isinstance(features, dict):
        yield "features", "must be an object"
        return
    known = {"traits", "attributes", "numeric_attributes", "scaling", "log"}
    for key in features.keys() - known:
        yield f"features.{key}", f"unknown key; expected {', '.join(sorted(known))}"
    chosen = trait_names(kind)
    names = features.get("traits", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        yield "features.traits", "must be a list of trait names"
        names = []
    for index, name in enumerate(names):
        if name in RANK_TRAITS and kind != Kind.CLUSTERING:
            yield f"features.traits[{index}]", (
                f"{name!r} is a rank over the whole base with no value at a past cutoff; "
                "use the recency, frequency and revenue traits it ranks")
        elif name not in chosen:
            yield f"features.traits[{index}]", (
                f"unknown trait {name!r}; use one of {', '.join(chosen)}")
    for key in ("attributes", "numeric_attributes"):
        yield from _attribute_errors(key, features.get(key, []))
    count = len(names) + len(features.get("attributes", []) or []) + len(
        features.get("numeric_attributes", []) or [])
    if count == 0:
        yield "features", "choose at least one trait or attribute"
    if len(set(names)) != len(names):
        yield "features.traits", "names a trait twice"
    if features.get("scaling", "standard") not in SCALINGS:
        yield "features.scaling", f"must be one of {', '.join(SCALINGS)}"
    if not isinstance(features.get("log", True), bool):
        yield "features.log", "must be true or false"


def _attribute_errors(key: str, names: Any) -> Iterator[Found]:
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        yield f"features.{key}", "must be a list of attribute names"
        return
    for index, name in enumerate(names):
        where = f"features.{key}[{index}]"
        if name in ENCRYPTED_ATTRIBUTES:
            yield where, "encrypted personal data cannot be a model feature"
        elif attribute_key(name) is None and name not in TEXT_ATTRIBUTES:
            yield where, (f"unknown attribute {name!r}; use one of "
                          f"{', '.join(TEXT_ATTRIBUTES)} or {ATTRIBUTE_PREFIX}<key>")
        elif attribute_key(name) is not None and not (attribute_key(name) or "").strip():
            yield where, f"name the custom attribute after {ATTRIBUTE_PREFIX!r}"


def _param_errors(kind: str, params: Any) -> Iterator[Found]:
    if not isinstance(params, dict):
        yield "params", "must be an object"
        return
    known = PARAMS[param_group(kind)]
    for name, value in params.items():
        spec = known.get(name)
        where = f"params.{name}"
        if spec is None:
            yield where, f"unknown for a {kind} model; expected {', '.join(known)}"
        elif value is None and spec.default is None:
            continue
        elif spec.kind is int and (not isinstance(value, int) or isinstance(value, bool)):
            yield where, "must be a whole number"
        elif spec.kind is float and (not isinstance(value, int | float)
                                     or isinstance(value, bool)):
            yield where, "must be a number"
        elif spec.kind is str and not isinstance(value, str):
            yield where, "must be a string"
        elif spec.choices and value not in spec.choices:
            yield where, f"must be one of {', '.join(spec.choices)}"
        elif spec.low is not None and value < spec.low:
            yield where, f"must be at least {spec.low:g}"
        elif spec.high is not None and value > spec.high:
            yield where, f"must be at most {spec.high:g}"
    merged = effective_params(kind, params)
    if kind == Kind.CLUSTERING and merged["k_min"] > merged["k_max"]:
        yield "params.k_min", "must not be above k_max"


def _population_errors(population: Any) -> list[Found]:
    from segments.ml.registry import segment_model_resolve
    from segments.rules import validate_definition
    from segments.services import segment_resolve

    errors = validate_definition(population, resolve_segment=segment_resolve,
                                 resolve_model=segment_model_resolve)
    return [("population" + e.path[1:], e.message) for e in errors]
