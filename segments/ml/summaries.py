"""Cluster profiles a marketer can name: size, and each feature's mean against everyone's.

Means are in the features' own units (purchases, euros, days), before any scaling; a
category shows its most common value in the cluster with its share there and overall.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from segments.ml.estimators import NOISE
from segments.ml.features import Layout


def _mean(values: np.ndarray) -> float | None:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if len(finite) else None


def _std(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.std()) if len(finite) > 1 else 0.0


def cluster_summaries(X: np.ndarray, labels: np.ndarray, layout: Layout) -> list[dict[str, Any]]:
    numbers = np.asarray(X[:, :len(layout.numbers)], dtype=np.float64)
    overall = {name: _mean(numbers[:, j]) for j, name in enumerate(layout.numbers)}
    spread = {name: _std(numbers[:, j]) for j, name in enumerate(layout.numbers)}
    summaries = []
    for cluster in sorted(set(labels.tolist()), key=lambda c: (c == NOISE, c)):
        members = labels == cluster
        features = []
        for j, name in enumerate(layout.numbers):
            mean = _mean(numbers[members, j])
            base = overall[name]
            z = (None if mean is None or base is None or spread[name] == 0
                 else round((mean - base) / spread[name], 3))
            features.append({"feature": name, "mean": _round(mean), "overall": _round(base),
                             "ratio": _round(mean / base) if mean is not None and base
                             else None, "z": z})
        for j, name in enumerate(layout.attributes, start=len(layout.numbers)):
            features.append(_category(name, X[members, j], X[:, j]))
        summaries.append({
            "cluster": int(cluster), "size": int(members.sum()),
            "share": round(float(members.mean()), 4), "features": features,
            "highlights": _highlights(features), "noise": cluster == NOISE,
        })
    return summaries


def _category(name: str, values: np.ndarray, everyone: np.ndarray) -> dict[str, Any]:
    counts = Counter(v for v in values if v is not None)
    if not counts:
        return {"feature": name, "top": None}
    top, n = counts.most_common(1)[0]
    overall = sum(1 for v in everyone if v == top) / max(len(everyone), 1)
    return {"feature": name, "top": top, "share": round(n / len(values), 3),
            "overall_share": round(overall, 3)}


def _highlights(features: list[dict[str, Any]]) -> list[str]:
    """The three features that set the cluster apart most, in words."""
    ranked = sorted((f for f in features if f.get("z") is not None),
                    key=lambda f: -abs(f["z"]))[:3]
    words = []
    for f in ranked:
        if abs(f["z"]) < 0.25:
            continue
        level = "high" if f["z"] > 0 else "low"
        ratio = f" (x{f['ratio']:.2g})" if f.get("ratio") else ""
        words.append(f"{level} {f['feature']}{ratio}")
    return words or ["close to the average"]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
