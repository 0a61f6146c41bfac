"""Clustering: k chosen by silhouette and Davies-Bouldin (k-means), BIC (Gaussian mixture),
eps from the k-distance knee (DBSCAN), Ward on a sample; stability; cluster profiles."""

from xml.etree import ElementTree

import numpy as np
import pytest

from segments.ml.clustering import knee
from segments.ml.estimators import ClusterAssigner
from segments.ml.registry import model_train, segment_model_save
from segments.models import ModelVersion
from tests.segments.ml_data import BLOBS, NOW, planted_traits

pytestmark = pytest.mark.django_db
FEATURES = {"traits": ["purchase_count", "avg_basket"], "scaling": "standard", "log": True}
QUICK = {"bootstrap": 3, "k_max": 7}


def _train(algorithm, params=None, features=FEATURES, **extra):
    model = segment_model_save(actor="test", name=algorithm, slug=algorithm,
                               kind="clustering", algorithm=algorithm, features=features,
                               params={**QUICK, **(params or {})}, **extra)
    version = model_train(model_id=model.pk, now=NOW)
    assert version.status == ModelVersion.Status.READY, version.error
    return version


def _agreement(version, groups):
    """Share of planted groups whose members land (mostly) in one cluster of their own."""
    from segments.ml.artifacts import pipeline_load
    from segments.ml.features import Layout, read_frame

    pipeline = pipeline_load(version.artifact, version.artifact_sha256)
    found = []
    for people in groups:
        scope = type(people[0]).objects.filter(pk__in=[p.pk for p in people]).values("pk")
        frame = read_frame(Layout.of(FEATURES), scope=scope, reference=NOW, as_of=False)
        labels = pipeline.predict(frame.X)
        values, counts = np.unique(labels, return_counts=True)
        found.append((int(values[counts.argmax()]), counts.max() / len(labels)))
    return found


def test_kmeans_finds_the_planted_number_of_groups_and_profiles_them():
    groups = planted_traits()
    version = _train("kmeans")
    m = version.metrics
    assert m["k"] == len(BLOBS) == m["clusters"]
    assert {row["k"] for row in m["k_table"]} == set(range(2, 8))
    best_silhouette = max(m["k_table"], key=lambda r: r["silhouette"])["k"]
    best_db = min(m["k_table"], key=lambda r: r["davies_bouldin"])["k"]
    assert best_silhouette == best_db == 4
    assert m["stability"]["runs"] == 3 and m["stability"]["ari_mean"] > 0.95
    found = _agreement(version, groups)
    assert len({cluster for cluster, _ in found}) == 4 and min(s for _, s in found) > 0.95
    sizes = [c["size"] for c in version.clusters]
    assert sizes == sorted(sizes, reverse=True) and sum(sizes) == 480  # 0 is the largest
    # The cheap, frequent buyers' cluster says so, in the features' own units.
    cheap = next(c for c in version.clusters if c["cluster"] == found[1][0])
    basket = next(f for f in cheap["features"] if f["feature"] == "avg_basket")
    assert basket["mean"] < 30 < basket["overall"] and basket["z"] < 0
    assert any("high purchase_count" in h for h in cheap["highlights"])
    assert {"elbow", "silhouette", "sizes"} <= set(version.charts)
    for document in version.charts.values():
        ElementTree.fromstring(document)  # noqa: S314 - our own charts


def test_gaussian_mixture_chooses_components_by_bic():
    planted_traits(per_blob=80)
    version = _train("gmm", {"k_max": 6})
    table = version.metrics["k_table"]
    assert version.metrics["k"] == min(table, key=lambda r: r["bic"])["k"] == 4
    assert "bic" in version.charts


def test_dbscan_proposes_eps_at_the_knee_and_marks_outliers_as_noise():
    planted_traits(per_blob=80)
    version = _train("dbscan")
    m = version.metrics
    assert m["eps"] > 0 and m["min_samples"] == 4  # 2 x the number of features
    assert m["clusters"] >= 2 and "k_distance" in version.charts
    assert 0 <= m["noise_share"] < 0.2


def test_ward_runs_on_a_sample_and_assigns_the_rest_to_the_nearest_centroid():
    groups = planted_traits(per_blob=100)
    version = _train("agglomerative", {"ward_sample": 150})
    assert version.params["ward_rows"] == 150
    assert version.metrics["k"] == 4
    found = _agreement(version, groups)
    assert len({cluster for cluster, _ in found}) == 4 and min(s for _, s in found) > 0.9
    pipeline_model = version.artifact  # centroids only: no training row is stored
    assert pipeline_model


def test_the_population_rule_limits_who_is_clustered():
    planted_traits(per_blob=60)
    version = _train("kmeans", {"k": 2},
                     population={"trait": "purchase_count", "op": "gte", "value": 10})
    assert version.metrics["rows"] == 120  # the two frequent-buyer groups only
    assert version.metrics["k_table"][0]["k"] == 2


def test_knee_is_the_point_farthest_from_the_chord():
    curve = np.array([0.1, 0.11, 0.12, 0.13, 0.14, 0.15, 0.5, 1.0, 2.0])
    assert knee(curve) in (5, 6)
    assert knee(np.array([1.0, 2.0])) == 1


def test_centroid_assignment_respects_each_cluster_radius():
    assigner = ClusterAssigner(centroids=np.array([[0.0, 0.0], [10.0, 0.0]]),
                               radius=np.array([1.0, 3.0]), mapping=np.array([1, 0]))
    points = np.array([[0.5, 0.0], [8.0, 0.0], [5.0, 0.0], [0.0, 2.0]])
    assert assigner.predict(points).tolist() == [1, 0, -1, -1]
