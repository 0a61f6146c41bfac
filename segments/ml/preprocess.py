"""The preprocessing every model's Pipeline starts with, fitted on training data only.

Traits: log1p (counts, amounts and day counts are skewed; negatives, e.g. a day of
clock skew, clip to 0), median imputation with a missing-value indicator (a profile that
never bought has no average basket: that absence is information), then standard or
min-max scaling. Numeric attributes: the same without the log. Categorical attributes:
missing as its own value, values seen fewer than MIN_CATEGORY times grouped as "(other)"
(so the stored pipeline holds no rare value that could single someone out), one-hot.

The same fitted object transforms training rows and, later, every profile scored: there
is no second implementation of the features to drift apart.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, OneHotEncoder, StandardScaler

from segments.ml.features import Layout

MIN_CATEGORY = 20
OTHER = "(other)"
MISSING = "(missing)"


def as_float(X: Any) -> np.ndarray:
    return np.asarray(X, dtype=np.float64)


def log1p_clipped(X: Any) -> np.ndarray:
    values = np.asarray(X, dtype=np.float64)
    return np.log1p(np.clip(values, 0.0, None))


class RareCategoryGrouper(TransformerMixin, BaseEstimator):
    """Text columns: None -> "(missing)", values seen < min_count times -> "(other)"."""

    def __init__(self, min_count: int = MIN_CATEGORY) -> None:
        self.min_count = min_count

    def fit(self, X: Any, y: Any = None) -> RareCategoryGrouper:
        columns = np.asarray(X, dtype=object)
        self.kept_ = []
        for j in range(columns.shape[1]):
            counts = Counter(_text(v) for v in columns[:, j])
            self.kept_.append(sorted(v for v, n in counts.items() if n >= self.min_count))
        self.n_features_in_ = columns.shape[1]
        return self

    def transform(self, X: Any) -> np.ndarray:
        columns = np.asarray(X, dtype=object)
        out = np.empty(columns.shape, dtype=object)
        for j, kept in enumerate(self.kept_):
            allowed = set(kept)
            out[:, j] = [t if (t := _text(v)) in allowed else OTHER for v in columns[:, j]]
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(input_features if input_features is not None
                          else [f"x{i}" for i in range(self.n_features_in_)], dtype=object)


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return MISSING
    return str(value).strip().casefold() or MISSING


def _scaler(scaling: str) -> Any:
    return MinMaxScaler() if scaling == "minmax" else StandardScaler()


def preprocessor(layout: Layout, features: dict[str, Any]) -> ColumnTransformer:
    """The ColumnTransformer of a model's raw matrix (columns in layout order)."""
    scaling = features.get("scaling", "standard")
    n_traits, n_numbers = len(layout.traits), len(layout.numbers)
    parts = []
    if layout.traits:
        steps: list[tuple[str, Any]] = [("float", FunctionTransformer(as_float))]
        if features.get("log", True):
            steps.append(("log1p", FunctionTransformer(log1p_clipped,
                                                       feature_names_out="one-to-one")))
        steps += [("impute", SimpleImputer(strategy="median", add_indicator=True,
                                           keep_empty_features=True)),
                  ("scale", _scaler(scaling))]
        parts.append(("traits", Pipeline(steps), list(range(n_traits))))
    if layout.numeric_attributes:
        parts.append(("numbers", Pipeline([
            ("float", FunctionTransformer(as_float)),
            ("impute", SimpleImputer(strategy="median", add_indicator=True,
                                     keep_empty_features=True)),
            ("scale", _scaler(scaling)),
        ]), list(range(n_traits, n_numbers))))
    if layout.attributes:
        parts.append(("categories", Pipeline([
            ("group", RareCategoryGrouper()),
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]), list(range(n_numbers, len(layout.columns)))))
    return ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0)
