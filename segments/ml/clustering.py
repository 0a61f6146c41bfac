"""Customer groups: fit, choose the number of groups, check stability, describe them.

- k-means over k_min..k_max: k by silhouette (higher is better) and Davies-Bouldin (lower
  is better), the sum of both ranks, a tie going to the better silhouette; the elbow curve
  of inertia is kept beside them.
- Gaussian mixture: the number of components with the lowest BIC (covariances get a floor
  of 0.01 on standardized features, or whole-number counts grow needle-thin components).
- DBSCAN: eps at the knee of the sorted k-distance curve (min_samples-th neighbour), the
  point farthest from the chord between its ends.
- Agglomerative (Ward) on a sample (memory is quadratic), k like k-means, the other
  profiles then joining the nearest centroid.
Stability: the same algorithm refitted on bootstrap resamples labels the sample again;
the adjusted Rand index (ARI) with the first labelling, 1 = identical, ~0 = chance.
Each cluster is described by its size and the mean of every feature against the
population's, so a marketer can name it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from sklearn.cluster import DBSCAN, KMeans
from sklearn.metrics import adjusted_rand_score, davies_bouldin_score, silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import Pipeline

from segments.ml import charts
from segments.ml.drift import cluster_reference
from segments.ml.estimators import NOISE, ClusterAssigner, nearest_centroid
from segments.ml.features import Layout
from segments.ml.preprocess import preprocessor
from segments.ml.result import Trained, TrainingError
from segments.ml.summaries import cluster_summaries


def train_clustering(*, X: np.ndarray, layout: Layout, features: dict[str, Any],
                     params: dict[str, Any], algorithm: str) -> Trained:
    rng = np.random.default_rng(params["random_state"])
    minimum = max(20, 5 * params["k_max"])
    if len(X) < minimum:
        raise TrainingError(f"{len(X)} profiles to cluster: at least {minimum} are needed")
    sample = X[rng.choice(len(X), min(len(X), params["sample_size"]), replace=False)]
    pre = preprocessor(layout, features).fit(sample)
    Z = pre.transform(sample)
    fit = {"kmeans": _kmeans, "gmm": _gmm, "dbscan": _dbscan,
           "agglomerative": _agglomerative}[algorithm]
    assigner, chosen, metrics, drawn = fit(Z, params, rng)
    raw = assigner.raw_predict(Z)
    found = sorted({int(c) for c in raw if c != NOISE})
    if len(found) < 2:
        raise TrainingError(f"{algorithm} found {len(found)} group(s): nothing to segment")
    sizes = {c: int((raw == c).sum()) for c in found}
    order = sorted(found, key=lambda c: (-sizes[c], c))
    mapping = np.full(max(found) + 1, NOISE, dtype=np.int64)
    for new, old in enumerate(order):
        mapping[old] = new
    assigner.mapping = mapping
    pipeline = Pipeline([("features", pre), ("model", assigner)])
    labels = pipeline.predict(X)
    sample_labels = assigner.predict(Z)
    metrics.update(_quality(Z, sample_labels, params, rng))
    metrics["stability"] = _stability(Z, sample_labels, algorithm, chosen, params, rng)
    metrics.update({"rows": len(X), "sample_rows": len(Z), "clusters": len(found),
                    "noise_share": round(float((labels == NOISE).mean()), 4)})
    clusters = cluster_summaries(X, labels, layout)
    drawn["sizes"] = charts.bar_chart(
        "Profiles per cluster", {f"cluster {c['cluster']}": c["size"] for c in clusters})
    warnings = []
    if metrics["stability"].get("ari_mean", 1.0) < 0.6:
        warnings.append(f"clusters are unstable across bootstrap samples "
                        f"(mean ARI {metrics['stability']['ari_mean']:.2f})")
    reference = cluster_reference(labels, list(range(len(found))))
    return Trained(pipeline, algorithm, chosen, metrics, drawn, reference, clusters, warnings)


def _quality(Z: np.ndarray, labels: np.ndarray, params: dict[str, Any],
             rng: np.random.Generator) -> dict[str, Any]:
    kept = labels != NOISE
    if len(set(labels[kept].tolist())) < 2:
        return {"silhouette": None, "davies_bouldin": None}
    return {"silhouette": _silhouette(Z[kept], labels[kept], params, rng),
            "davies_bouldin": round(float(davies_bouldin_score(Z[kept], labels[kept])), 4)}


def _silhouette(Z: np.ndarray, labels: np.ndarray, params: dict[str, Any],
                rng: np.random.Generator) -> float:
    # The same subset for every k (its own seed), so the scores compare like with like.
    size = min(len(Z), params["silhouette_sample"])
    pick = np.random.default_rng(params["random_state"]).choice(len(Z), size, replace=False)
    if len(set(labels[pick].tolist())) < 2:
        return 0.0
    return round(float(silhouette_score(Z[pick], labels[pick])), 4)


def _k_range(params: dict[str, Any]) -> list[int]:
    return [params["k"]] if params.get("k") else list(range(params["k_min"],
                                                            params["k_max"] + 1))


def _pick_k(table: list[dict[str, Any]]) -> int:
    """Best sum of ranks of silhouette (high) and Davies-Bouldin (low); tie: silhouette."""
    by_sil = sorted(table, key=lambda r: -r["silhouette"])
    by_db = sorted(table, key=lambda r: r["davies_bouldin"])
    rank = {r["k"]: by_sil.index(r) + by_db.index(r) for r in table}
    return min(table, key=lambda r: (rank[r["k"]], -r["silhouette"]))["k"]


def _kmeans(Z: np.ndarray, params: dict[str, Any], rng: np.random.Generator):
    table, fitted = [], {}
    for k in _k_range(params):
        model = KMeans(k, n_init=4, max_iter=params["max_iter"],
                       random_state=params["random_state"]).fit(Z)
        fitted[k] = model
        table.append({"k": k, "inertia": round(float(model.inertia_), 2),
                      "silhouette": _silhouette(Z, model.labels_, params, rng),
                      "davies_bouldin": round(float(davies_bouldin_score(Z, model.labels_)), 4)})
    k = _pick_k(table)
    ks = [r["k"] for r in table]
    drawn = {
        "elbow": charts.line_chart("Elbow: k-means inertia", {"inertia": (
            ks, [r["inertia"] for r in table])}, x_label="k", y_label="inertia", marker_x=k),
        "silhouette": charts.line_chart("Choosing k", {
            "silhouette (higher is better)": (ks, [r["silhouette"] for r in table]),
            "Davies-Bouldin (lower is better)": (ks, [r["davies_bouldin"] for r in table])},
            x_label="k", y_label="score", marker_x=k),
    }
    return (ClusterAssigner(inner=fitted[k]), {"k": k, "k_range": ks},
            {"k": k, "k_table": table}, drawn)


def _gmm(Z: np.ndarray, params: dict[str, Any], rng: np.random.Generator):
    table, fitted = [], {}
    for k in _k_range(params):
        model = GaussianMixture(k, covariance_type="full", n_init=2, reg_covar=1e-2,
                                random_state=params["random_state"]).fit(Z)
        fitted[k] = model
        table.append({"k": k, "bic": round(float(model.bic(Z)), 2)})
    k = min(table, key=lambda r: r["bic"])["k"]
    drawn = {"bic": charts.line_chart(
        "Gaussian mixture: BIC (lower is better)",
        {"BIC": ([r["k"] for r in table], [r["bic"] for r in table])},
        x_label="components", y_label="BIC", marker_x=k)}
    return ClusterAssigner(inner=fitted[k]), {"k": k}, {"k": k, "k_table": table}, drawn


def knee(values: np.ndarray) -> int:
    """Index of the point of a sorted curve farthest from the chord joining its ends."""
    n = len(values)
    if n < 3:
        return n - 1
    x = np.linspace(0.0, 1.0, n)
    span = values[-1] - values[0] or 1.0
    y = (values - values[0]) / span
    return int(np.argmax(np.abs(x - y)))


def _dbscan_fit(Z: np.ndarray, eps: float, min_samples: int) -> ClusterAssigner:
    labels = DBSCAN(eps=eps, min_samples=min_samples).fit(Z).labels_
    clusters = sorted(set(labels.tolist()) - {NOISE})
    if not clusters:
        return ClusterAssigner(centroids=np.zeros((0, Z.shape[1])), radius=np.zeros(0))
    centroids = np.vstack([Z[labels == c].mean(axis=0) for c in clusters])
    radius = np.array([
        float(np.quantile(np.linalg.norm(Z[labels == c] - centroids[i], axis=1), 0.99))
        + eps for i, c in enumerate(clusters)])
    return ClusterAssigner(centroids=centroids, radius=radius)


def _dbscan(Z: np.ndarray, params: dict[str, Any], rng: np.random.Generator):
    Zs = Z[rng.choice(len(Z), min(len(Z), params["ward_sample"]), replace=False)]
    min_samples = params.get("min_samples") or 2 * Z.shape[1]
    distances, _ = NearestNeighbors(n_neighbors=min_samples).fit(Zs).kneighbors(Zs)
    curve = np.sort(distances[:, -1])
    eps = float(curve[knee(curve)]) or 1e-6
    assigner = _dbscan_fit(Zs, eps, min_samples)
    if assigner.centroids is None or len(assigner.centroids) == 0:
        raise TrainingError(f"DBSCAN found no dense group (eps {eps:.3f})")
    drawn = {"k_distance": charts.line_chart(
        f"k-distance ({min_samples}-th neighbour), eps at the knee",
        {"distance": (list(range(len(curve)))[::max(1, len(curve) // 300)],
                      list(curve)[::max(1, len(curve) // 300)])},
        x_label="profiles, sorted", y_label="distance", markers=False,
        marker_x=float(knee(curve)))}
    chosen = {"eps": round(eps, 5), "min_samples": min_samples}
    return assigner, chosen, {"eps": chosen["eps"], "min_samples": min_samples}, drawn


def _ward_fit(Z: np.ndarray, k: int) -> ClusterAssigner:
    labels = fcluster(linkage(Z, method="ward"), t=k, criterion="maxclust") - 1
    centroids = np.vstack([Z[labels == c].mean(axis=0) for c in sorted(set(labels.tolist()))])
    return ClusterAssigner(centroids=centroids)


def _agglomerative(Z: np.ndarray, params: dict[str, Any], rng: np.random.Generator):
    Zs = Z[rng.choice(len(Z), min(len(Z), params["ward_sample"]), replace=False)]
    tree = linkage(Zs, method="ward")
    table = []
    for k in _k_range(params):
        labels = fcluster(tree, t=k, criterion="maxclust") - 1
        if len(set(labels.tolist())) < 2:
            continue
        table.append({"k": k, "silhouette": _silhouette(Zs, labels, params, rng),
                      "davies_bouldin": round(float(davies_bouldin_score(Zs, labels)), 4)})
    if not table:
        raise TrainingError("Ward clustering found a single group")
    k = _pick_k(table)
    ks = [r["k"] for r in table]
    drawn = {"silhouette": charts.line_chart("Choosing k (Ward)", {
        "silhouette (higher is better)": (ks, [r["silhouette"] for r in table]),
        "Davies-Bouldin (lower is better)": (ks, [r["davies_bouldin"] for r in table])},
        x_label="k", y_label="score", marker_x=k)}
    return (_ward_fit(Zs, k), {"k": k, "ward_rows": len(Zs)},
            {"k": k, "k_table": table}, drawn)


def _refit(algorithm: str, Zb: np.ndarray, chosen: dict[str, Any],
           params: dict[str, Any]) -> ClusterAssigner:
    seed = params["random_state"]
    if algorithm == "kmeans":
        return ClusterAssigner(inner=KMeans(chosen["k"], n_init=4, random_state=seed).fit(Zb))
    if algorithm == "gmm":
        return ClusterAssigner(inner=GaussianMixture(chosen["k"], reg_covar=1e-2,
                                                     random_state=seed).fit(Zb))
    if algorithm == "dbscan":
        return _dbscan_fit(Zb[:params["ward_sample"]], chosen["eps"], chosen["min_samples"])
    return _ward_fit(Zb[:params["ward_sample"]], chosen["k"])


def _stability(Z: np.ndarray, labels: np.ndarray, algorithm: str, chosen: dict[str, Any],
               params: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    scores = []
    for _ in range(params["bootstrap"]):
        Zb = Z[rng.choice(len(Z), len(Z), replace=True)]
        assigner = _refit(algorithm, Zb, chosen, params)
        if assigner.centroids is not None and len(assigner.centroids) == 0:
            scores.append(0.0)
            continue
        again = assigner.raw_predict(Z) if assigner.inner is not None else nearest_centroid(
            Z, assigner.centroids, assigner.radius)
        scores.append(float(adjusted_rand_score(labels, again)))
    if not scores:
        return {"runs": 0}
    return {"runs": len(scores), "ari_mean": round(float(np.mean(scores)), 4),
            "ari_min": round(float(np.min(scores)), 4)}
