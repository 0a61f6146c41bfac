"""Drift: the population stability index (PSI) of scores, and cluster agreement.

PSI = sum over bins of (actual - expected) * ln(actual / expected), bins being the deciles
of the expected scores. Usual reading: < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 a
population the model was not trained on. Clusters use their labels as bins.
"""

from __future__ import annotations

from typing import Any

import numpy as np

EPSILON = 1e-4
BINS = 10


def reference_bins(scores: np.ndarray) -> dict[str, Any]:
    """Decile edges of scores and the share of scores in each bin (the expected side)."""
    inner = np.unique(np.quantile(scores, np.linspace(0, 1, BINS + 1)[1:-1]))
    return {"kind": "score", "edges": [float(e) for e in inner],
            "shares": [float(s) for s in _shares_by_edges(scores, inner)]}


def cluster_reference(labels: np.ndarray, clusters: list[int]) -> dict[str, Any]:
    counts = np.array([(labels == c).sum() for c in clusters], dtype=np.float64)
    return {"kind": "cluster", "clusters": clusters,
            "shares": [float(s) for s in counts / max(counts.sum(), 1.0)]}


def _shares_by_edges(scores: np.ndarray, edges: np.ndarray) -> np.ndarray:
    counts = np.bincount(np.searchsorted(edges, scores, side="right"),
                         minlength=len(edges) + 1).astype(np.float64)
    return counts / max(counts.sum(), 1.0)


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    e = np.clip(np.asarray(expected, dtype=np.float64), EPSILON, None)
    a = np.clip(np.asarray(actual, dtype=np.float64), EPSILON, None)
    return float(np.sum((a - e) * np.log(a / e)))


class Histogram:
    """Accumulates scores (or cluster labels) chunk by chunk against a reference."""

    def __init__(self, reference: dict[str, Any]) -> None:
        self.reference = reference
        if reference.get("kind") == "cluster":
            self.keys = list(reference["clusters"])
            self.counts = np.zeros(len(self.keys) + 1)  # last: a label not in the reference
        else:
            self.edges = np.asarray(reference.get("edges", []), dtype=np.float64)
            self.counts = np.zeros(len(self.edges) + 1)

    def add(self, values: np.ndarray) -> None:
        if self.reference.get("kind") == "cluster":
            for i, key in enumerate(self.keys):
                self.counts[i] += int((values == key).sum())
            self.counts[-1] += len(values) - int(np.isin(values, self.keys).sum())
        else:
            self.counts += np.bincount(np.searchsorted(self.edges, values, side="right"),
                                       minlength=len(self.edges) + 1)

    def psi(self) -> float | None:
        if not self.reference.get("shares") or self.counts.sum() == 0:
            return None
        expected = list(self.reference["shares"])
        if self.reference.get("kind") == "cluster":
            expected.append(0.0)
        return psi(np.array(expected), self.counts / self.counts.sum())


def score_psi(expected_scores: np.ndarray, actual_scores: np.ndarray) -> float:
    """PSI of two score samples, binned on the expected sample's deciles."""
    reference = reference_bins(expected_scores)
    histogram = Histogram(reference)
    histogram.add(actual_scores)
    return histogram.psi() or 0.0
