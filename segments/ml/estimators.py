"""The last step of a clustering Pipeline: one `predict` for every algorithm.

k-means and Gaussian mixtures predict with their own fitted object. DBSCAN and Ward
agglomerative clustering cannot label new points, and keeping their training rows would
store people's feature vectors in the artifact; so they keep only their clusters'
centroids: a point joins the nearest one (DBSCAN: only within that cluster's radius, else
noise, -1). Cluster numbers are renumbered by size, 0 the largest.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

NOISE = -1


class ClusterAssigner(BaseEstimator):
    def __init__(self, inner: Any = None, centroids: np.ndarray | None = None,
                 radius: np.ndarray | None = None, mapping: np.ndarray | None = None) -> None:
        self.inner = inner
        self.centroids = centroids
        self.radius = radius
        self.mapping = mapping

    def fit(self, Z: Any = None, y: Any = None) -> ClusterAssigner:
        """Already fitted by segments.ml.clustering; here for scikit-learn's checks."""
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return self.inner is not None or self.centroids is not None

    def raw_predict(self, Z: np.ndarray) -> np.ndarray:
        if self.inner is not None:
            return np.asarray(self.inner.predict(Z), dtype=np.int64)
        return nearest_centroid(Z, self.centroids, self.radius)

    def predict(self, Z: np.ndarray) -> np.ndarray:
        raw = self.raw_predict(Z)
        if self.mapping is None:
            return raw
        out = np.full(len(raw), NOISE, dtype=np.int64)
        known = raw >= 0
        out[known] = self.mapping[raw[known]]
        return out


def nearest_centroid(Z: np.ndarray, centroids: np.ndarray,
                     radius: np.ndarray | None = None, block: int = 50_000) -> np.ndarray:
    """Index of the nearest centroid (squared Euclidean), in blocks to bound memory."""
    labels = np.empty(len(Z), dtype=np.int64)
    squared = (centroids ** 2).sum(axis=1)
    for start in range(0, len(Z), block):
        part = Z[start:start + block]
        distance = squared[None, :] - 2 * part @ centroids.T + (part ** 2).sum(axis=1)[:, None]
        nearest = distance.argmin(axis=1)
        if radius is not None:
            best = np.sqrt(np.clip(distance[np.arange(len(part)), nearest], 0, None))
            nearest = np.where(best <= radius[nearest], nearest, NOISE)
        labels[start:start + block] = nearest
    return labels
