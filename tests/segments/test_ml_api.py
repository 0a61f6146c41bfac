"""Model API, admin pages and the train_segment_model command."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django_celery_beat.models import PeriodicTask
from rest_framework.test import APIClient

from cdp.models import AuditEvent
from cdp.services.api_keys import api_key_create
from segments.models import ModelVersion, SegmentModel
from segments.traits import traits_recompute_all
from tests.segments.ml_data import NOW, planted_traits, propensity_data

pytestmark = pytest.mark.django_db
CLUSTERS = {"name": "Groups", "slug": "groups", "kind": "clustering",
            "features": {"traits": ["purchase_count", "avg_basket"]},
            "params": {"k": 4, "bootstrap": 2}, "train_schedule": "0 6 * * 1"}


def _client(*scopes: str) -> APIClient:
    _, raw = api_key_create(name="-".join(scopes), scopes=list(scopes))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


@pytest.fixture
def marketer() -> APIClient:
    return _client("marketer")


def test_create_validates_with_paths_and_schedules_retraining(marketer):
    bad = marketer.post("/api/v1/models/", {**CLUSTERS, "features": {"traits": ["email"]},
                                            "params": {"k": 1}}, format="json")
    assert bad.status_code == 400
    assert {e["path"] for e in bad.json()["errors"]} == {"features.traits[0]", "params.k"}
    made = marketer.post("/api/v1/models/", CLUSTERS, format="json")
    assert made.status_code == 201, made.json()
    body = made.json()
    assert body["algorithm"] == "kmeans" and body["active_version"] is None
    assert PeriodicTask.objects.get(name=f"segment-model-train:{body['id']}").enabled
    assert AuditEvent.objects.filter(action="segment_model.create").exists()
    default = marketer.post("/api/v1/models/", {"name": "Buy", "slug": "buy",
                                                "kind": "propensity"}, format="json")
    assert default.json()["algorithm"] == "best"
    assert "days_since_last_purchase" in default.json()["features"]["traits"]


def test_train_then_read_versions_metrics_charts_and_clusters(
    marketer, celery_eager, django_capture_on_commit_callbacks
):
    planted_traits(per_blob=30)
    marketer.post("/api/v1/models/", CLUSTERS, format="json")
    with django_capture_on_commit_callbacks(execute=True):
        queued = marketer.post("/api/v1/models/groups/train")
    assert queued.status_code == 202
    listed = marketer.get("/api/v1/models/").json()
    assert listed[0]["active_version"]["number"] == 1
    versions = marketer.get("/api/v1/models/groups/versions").json()
    assert [v["number"] for v in versions] == [1] and versions[0]["status"] == "ready"
    detail = marketer.get("/api/v1/models/groups/versions/1").json()
    assert detail["metrics"]["clusters"] == 4 and len(detail["clusters"]) == 4
    assert "artifact" not in detail and len(detail["artifact_sha256"]) == 64
    chart = marketer.get(detail["charts"]["elbow"])
    assert chart.status_code == 200 and chart["Content-Type"] == "image/svg+xml"
    assert chart.content.startswith(b"<svg")
    assert marketer.get("/api/v1/models/groups/versions/1/charts/nope.svg").status_code == 404
    named = marketer.patch("/api/v1/models/groups/versions/1",
                           {"cluster_names": {"0": "bargain hunters"}}, format="json")
    assert named.status_code == 200
    assert marketer.patch("/api/v1/models/groups/versions/1",
                          {"cluster_names": {"9": "x"}}, format="json").status_code == 400
    clusters = marketer.get("/api/v1/models/groups/clusters").json()
    assert clusters["clusters"][0]["name"] == "bargain hunters"
    assert {"size", "share", "features", "highlights"} <= set(clusters["clusters"][0])
    runs = marketer.get("/api/v1/models/groups/runs").json()
    assert runs[0]["profiles"] == 120 and runs[0]["status"] == "succeeded"


def test_activate_an_older_version_and_refuse_a_failed_one(
    marketer, celery_eager, django_capture_on_commit_callbacks
):
    planted_traits(per_blob=30)
    marketer.post("/api/v1/models/", CLUSTERS, format="json")
    with django_capture_on_commit_callbacks(execute=True):
        marketer.post("/api/v1/models/groups/train")
        marketer.post("/api/v1/models/groups/train")
    with django_capture_on_commit_callbacks(execute=True):
        back = marketer.post("/api/v1/models/groups/versions/1/activate")
    assert back.status_code == 200
    assert ModelVersion.objects.get(is_active=True).number == 1
    ModelVersion.objects.filter(number=2).update(status="failed")
    assert marketer.post("/api/v1/models/groups/versions/2/activate").status_code == 409


def test_scopes(marketer):
    marketer.post("/api/v1/models/", CLUSTERS, format="json")
    reader = _client("read")
    assert reader.get("/api/v1/models/groups").status_code == 200
    assert reader.post("/api/v1/models/groups/train").status_code == 403
    assert _client("ingest").get("/api/v1/models/").status_code == 403


def test_list_query_count_does_not_grow_with_models(marketer, django_assert_max_num_queries):
    for i in range(5):
        marketer.post("/api/v1/models/", {**CLUSTERS, "slug": f"g{i}"}, format="json")
    with django_assert_max_num_queries(6):
        assert len(marketer.get("/api/v1/models/").json()) == 5


def test_the_command_creates_trains_activates_and_scores(celery_eager):
    propensity_data(count=200)
    traits_recompute_all(now=NOW)
    out = io.StringIO()
    call_command("train_segment_model", "buy-30d", "--create", "propensity", "--params",
                 '{"n_estimators": 20, "max_iter": 30}', "--as-of", NOW.date().isoformat(),
                 stdout=out)
    text = out.getvalue()
    assert "buy-30d version 1" in text and "ROC AUC" in text and "recency only" in text
    assert "version 1 is active" in text and "scored" in text
    model = SegmentModel.objects.get(slug="buy-30d")
    assert model.scores.count() > 0
    with pytest.raises(CommandError, match="unknown model 'nope'"):
        call_command("train_segment_model", "nope")
    with pytest.raises(CommandError, match="params.horizon_days"):
        call_command("train_segment_model", "x", "--create", "churn", "--params",
                     '{"horizon_days": 0}')


def test_admin_shows_models_versions_charts_and_clusters(
    client, celery_eager, django_capture_on_commit_callbacks
):
    planted_traits(per_blob=30)
    admin = get_user_model().objects.create_superuser("root", "r@example.org", "pw")
    client.force_login(admin)
    response = client.post("/admin/segments/segmentmodel/add/", {
        "name": "Groups", "slug": "groups", "kind": "clustering", "algorithm": "",
        "features": '{"traits": ["purchase_count", "avg_basket"]}', "params": '{"k": 4}',
        "population": "{}", "requires_consent": "on", "train_schedule": "", "enabled": "on",
        "versions-TOTAL_FORMS": "0", "versions-INITIAL_FORMS": "0"})
    assert response.status_code == 302, response.context["adminform"].form.errors
    model = SegmentModel.objects.get(slug="groups")
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/admin/segments/segmentmodel/", {"action": "train_now",
                                                      "_selected_action": [model.pk]})
    version = model.versions.get()
    assert client.get("/admin/segments/segmentmodel/").status_code == 200
    page = client.get(f"/admin/segments/modelversion/{version.pk}/change/")
    assert page.status_code == 200
    assert b"<svg" in page.content and b"se distingue par" in page.content
