"""Connectors API: destinations (admin writes, write-only credentials), syncs (marketer),
runs, the DPO's erasure proof export and the Mailchimp opt-out webhook."""

import json
import logging

import pytest
from django.db.models import TextField
from django.db.models.functions import Cast
from django_celery_beat.models import PeriodicTask
from rest_framework.test import APIClient

from cdp.models import AuditEvent, ConsentEntry
from cdp.privacy.consent import profiles_allowed_for
from cdp.services.api_keys import api_key_create
from cdp.services.erasure import subject_erase
from connectors.engine import sync_run
from connectors.erasure import deliveries_send
from connectors.models import AudienceSync, Destination, ErasureDelivery, SyncRun
from connectors.registry import credentials_open
from tests.connectors.conftest import LIST_ID, TAG

SECRET_KEY = "5ec7e7a9b1c2d3e4f5a6b7c8d9e0f1a2-us19"


def _client(scopes: list[str], name: str) -> APIClient:
    _, raw = api_key_create(name=name, scopes=scopes)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


@pytest.fixture
def admin_api(db) -> APIClient:
    return _client(["admin"], "ops")


@pytest.fixture
def marketer_api(db) -> APIClient:
    return _client(["marketer"], "crm-team")


def _audit_text() -> str:
    return " ".join(AuditEvent.objects.annotate(text=Cast("details", TextField()))
                    .values_list("text", flat=True))


def _create_destination(client: APIClient, **changes) -> dict:
    body = {"name": "mc-main", "kind": "mailchimp", "purpose": "email_marketing",
            "credentials": {"api_key": SECRET_KEY},
            "field_mapping": {"FNAME": "first_name"}, **changes}
    return client.post("/api/v1/destinations/", body, format="json")


def test_destination_create_read_update_without_ever_returning_credentials(
        admin_api, marketer_api):
    """An admin key creates and changes a destination; answers name the credentials held,
    never their values; the audit log holds no secret either."""
    created = _create_destination(admin_api)
    assert created.status_code == 201, created.content
    body = created.json()
    pk = body["id"]
    assert body["credentials_set"] == ["api_key"]
    assert body["effective_limits"] == {"rate_per_s": None, "concurrency": 10,
                                        "batch_size": 500}
    token = Destination.objects.get(pk=pk).inbound_token
    assert body["webhook_url"].endswith(
        f"/api/v1/destinations/{pk}/webhooks/mailchimp?token={token}")
    changed = admin_api.patch(f"/api/v1/destinations/{pk}",
                              {"rate_per_s": 5, "batch_size": 200, "enabled": False},
                              format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["effective_limits"] == {"rate_per_s": 5.0, "concurrency": 10,
                                                  "batch_size": 200}
    assert changed.json()["enabled"] is False
    # PATCH without credentials kept them.
    assert credentials_open(Destination.objects.get(pk=pk)) == {"api_key": SECRET_KEY}
    put = admin_api.put(f"/api/v1/destinations/{pk}", {
        "name": "mc-main", "kind": "mailchimp", "purpose": "email_marketing",
        "credentials": {"api_key": "aaaabbbbccccddddeeeeffff00001111-us6"}}, format="json")
    assert put.status_code == 200, put.content
    assert credentials_open(Destination.objects.get(pk=pk))["api_key"].endswith("-us6")
    listed = marketer_api.get("/api/v1/destinations/")
    assert listed.status_code == 200 and listed.json()[0]["name"] == "mc-main"
    assert listed.json()[0]["webhook_url"] is None  # the token is for admins
    answers = [created, changed, put, listed, admin_api.get(f"/api/v1/destinations/{pk}")]
    for answer in answers:
        assert SECRET_KEY not in answer.content.decode()
        assert "aaaabbbbccccdddd" not in answer.content.decode()
    audit = _audit_text()
    assert "destination.create" in AuditEvent.objects.values_list("action", flat=True)
    assert SECRET_KEY not in audit and "aaaabbbbccccdddd" not in audit
    assert admin_api.delete(f"/api/v1/destinations/{pk}").status_code == 405


def test_destination_scopes(db, admin_api, marketer_api, dpo_client, read_client):
    """Only admin keys write destinations; marketer and admin keys read them."""
    assert _create_destination(marketer_api).status_code == 403
    pk = _create_destination(admin_api).json()["id"]
    assert marketer_api.patch(f"/api/v1/destinations/{pk}", {"enabled": False},
                              format="json").status_code == 403
    for client in (dpo_client, read_client):
        assert client.get("/api/v1/destinations/").status_code == 403
        assert client.get(f"/api/v1/destinations/{pk}").status_code == 403
    assert APIClient().get("/api/v1/destinations/").status_code in (401, 403)
    assert Destination.objects.get(pk=pk).enabled


@pytest.mark.parametrize(("changes", "field"), [
    ({"field_mapping": {"FNAME": "shoe_size"}}, "field_mapping"),
    ({"purpose": "astrology"}, "purpose"),
    ({"credentials": {}}, "credentials"),
    ({"credentials": {"api_key": "nodatacenter"}}, "credentials"),
    ({"credentials": {"api_key": SECRET_KEY, "password": "x"}}, "credentials"),
    ({"kind": "carrier-pigeon"}, "kind"),
    ({"name": "has space"}, "name"),
    ({"batch_size": 1000}, "batch_size"),
    ({"rate_per_s": -1}, "rate_per_s"),
    ({"base_url": "ftp://example.org"}, "base_url"),
])
def test_destination_validation_names_the_field(admin_api, changes, field):
    """A bad value is refused with 400, the field at fault and a message; nothing saved."""
    response = _create_destination(admin_api, **changes)
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert errors[0]["field"].split(".")[0] == field and errors[0]["message"], errors
    assert SECRET_KEY not in response.content.decode()
    assert not Destination.objects.exists()


def test_duplicate_name_and_kind_change_are_refused(admin_api, mailchimp_sync):
    """Names are unique; a destination used by syncs cannot change kind."""
    assert _create_destination(admin_api, name="mc").json()["errors"][0]["field"] == "name"
    pk = mailchimp_sync.destination_id
    response = admin_api.patch(f"/api/v1/destinations/{pk}", {
        "kind": "webhook", "credentials": {"secret": "s"}}, format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "kind"


def test_sync_create_read_update_delete(marketer_api, admin_api, audience,
                                        mailchimp_destination):
    """Marketers manage syncs; a schedule becomes a beat task; delete only disables."""
    created = marketer_api.post("/api/v1/syncs/", {
        "segment": "brest", "destination": "mc",
        "container": {"list_id": LIST_ID, "tag": TAG}}, format="json")
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert created.json()["mode"] == "upsert_and_remove"
    got = admin_api.get(f"/api/v1/syncs/{pk}").json()
    assert got["segment"] == "brest" and got["destination"] == "mc"
    changed = marketer_api.patch(f"/api/v1/syncs/{pk}", {"schedule": "0 3 * * *",
                                                         "mode": "mirror"}, format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["mode"] == "mirror"
    assert PeriodicTask.objects.get(name=f"sync-run:{pk}").enabled
    assert marketer_api.delete(f"/api/v1/syncs/{pk}").status_code == 204
    assert AudienceSync.objects.get(pk=pk).enabled is False
    assert not PeriodicTask.objects.filter(name=f"sync-run:{pk}").exists()
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"sync.create", "sync.change", "sync.delete"} <= actions


def test_sync_validation_and_scopes(marketer_api, read_client, dpo_client, audience,
                                    mailchimp_destination):
    """Bad syncs answer 400 naming the field; read and dpo keys may not touch syncs."""
    base = {"segment": "brest", "destination": "mc",
            "container": {"list_id": LIST_ID, "tag": TAG}}
    cases = [({"container": {"list_id": LIST_ID}}, "container"),
             ({"schedule": "every day"}, "schedule"),
             ({"segment": "nowhere"}, "segment"),
             ({"destination": "nothing"}, "destination"),
             ({"mode": "append"}, "mode")]
    for change, field in cases:
        response = marketer_api.post("/api/v1/syncs/", {**base, **change}, format="json")
        assert response.status_code == 400, (change, response.content)
        assert response.json()["errors"][0]["field"] == field
    for client in (read_client, dpo_client):
        assert client.get("/api/v1/syncs/").status_code == 403
        assert client.post("/api/v1/syncs/", base, format="json").status_code == 403
    assert not AudienceSync.objects.exists()


def test_run_endpoint_runs_the_sync_and_lists_its_runs(
        marketer_api, audience, mailchimp, mailchimp_sync, celery_eager,
        django_assert_max_num_queries):
    """POST .../run queues a run (here run at once, against the fake Mailchimp); the runs
    are listed newest first with their counters, cursor-paginated."""
    ids = audience.add(3)
    audience.add(1, start=3, consent=False)
    audience.evaluate()
    response = marketer_api.post(f"/api/v1/syncs/{mailchimp_sync.pk}/run")
    assert response.status_code == 202, response.content
    assert response.json()["task_id"]
    assert mailchimp.tag_members(TAG) == {f"person{n}@cdp.test" for n in range(3)}
    assert marketer_api.post(f"/api/v1/syncs/{mailchimp_sync.pk}/run").status_code == 202
    with django_assert_max_num_queries(6):
        runs = marketer_api.get(f"/api/v1/syncs/{mailchimp_sync.pk}/runs?page_size=1").json()
    (newest,) = runs["results"]
    assert newest["unchanged"] == 3 and newest["added"] == 0 and runs["next"]
    older = marketer_api.get(runs["next"]).json()["results"][0]
    assert older["added"] == 3 and older["skipped_consent"] == 1
    assert older["status"] == "succeeded" and older["api_calls"] >= 2
    assert AuditEvent.objects.filter(action="sync.run_requested",
                                     actor="api-key:crm-team").count() == 2
    assert len(ids) == 3


def test_run_of_a_disabled_sync_is_refused(marketer_api, mailchimp_sync):
    marketer_api.delete(f"/api/v1/syncs/{mailchimp_sync.pk}")
    response = marketer_api.post(f"/api/v1/syncs/{mailchimp_sync.pk}/run")
    assert response.status_code == 409
    assert response.json()["errors"][0]["field"] == "enabled"
    assert not SyncRun.objects.exists()


def test_sync_list_query_count(marketer_api, audience, mailchimp_destination,
                               django_assert_max_num_queries):
    """The list loads segments and destinations with the syncs (no N+1)."""
    from connectors.services import sync_save

    for n in range(5):
        sync_save(actor="t", segment=audience.segment, destination=mailchimp_destination,
                  container={"list_id": LIST_ID, "tag": f"t{n}"})
    with django_assert_max_num_queries(5):
        assert len(marketer_api.get("/api/v1/syncs/").json()) == 5


@pytest.fixture
def erased(audience, mailchimp, mailchimp_sync):
    """Two people synced to Mailchimp, then one erased: one delivery pending."""
    audience.add(2)
    audience.evaluate()
    sync_run(sync_id=mailchimp_sync.pk)
    result = subject_erase(profile_ids=[audience.profile(0)], identified_by="profile",
                           actor="t", reason="Art. 17 request #12")
    return result.request


def test_erasure_deliveries_export_is_dpo_only_and_audited(
        dpo_client, marketer_api, mailchimp, erased):
    """The DPO exports one row per destination with its status and the vendor's answer;
    the export is audited, a refused key is audited as access.denied."""
    response = dpo_client.get(f"/api/v1/erasure-deliveries?request={erased.pk}&format=csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0].startswith("id,request,destination,destination_kind,profile_id")
    assert len(lines) == 2 and ",mc,mailchimp," in lines[1] and ",pending," in lines[1]
    deliveries_send()
    rows = json.loads(b"".join(dpo_client.get(
        "/api/v1/erasure-deliveries?status=done&format=json").streaming_content))
    assert [r["status"] for r in rows] == ["done"]
    assert rows[0]["vendor_response"].startswith("204") and rows[0]["done_at"]
    assert rows[0]["request"] == erased.pk
    assert ErasureDelivery.objects.get().remote_id in mailchimp.forgotten(LIST_ID)
    exports = AuditEvent.objects.filter(action="erasure_delivery.export",
                                        actor="api-key:dpo-key")
    assert exports.count() == 2
    assert marketer_api.get("/api/v1/erasure-deliveries").status_code == 403
    assert AuditEvent.objects.filter(action="access.denied", actor="api-key:crm-team").exists()
    bad = dpo_client.get("/api/v1/erasure-deliveries?since=yesterday")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "since"


def _webhook(client, destination, token=None, **form):
    url = (f"/api/v1/destinations/{destination.pk}/webhooks/mailchimp"
           f"?token={token or destination.inbound_token}")
    return client.post(url, form) if form else client.get(url)


def test_mailchimp_webhook_withdraws_consent(client, audience, mailchimp, mailchimp_sync,
                                             caplog):
    """An unsubscribe pushed by Mailchimp becomes a withdrawal in the ledger (source
    dest-<name>): the person may no longer be used for the purpose; nothing echoes the
    address."""
    audience.add(2)
    audience.evaluate()
    sync_run(sync_id=mailchimp_sync.pk)
    destination = mailchimp_sync.destination
    assert _webhook(client, destination).status_code == 200  # Mailchimp's URL check
    caplog.set_level(logging.DEBUG)
    response = _webhook(client, destination, **{
        "type": "unsubscribe", "fired_at": "2026-11-21 10:00:00", "data[action]": "unsub",
        "data[email]": "Person0@cdp.test", "data[list_id]": LIST_ID})
    assert response.status_code == 200 and response.json()["withdrawn"] == 1
    assert "person0" not in response.content.decode().lower()
    assert "person0" not in caplog.text.lower()
    person = audience.profile(0)
    entry = ConsentEntry.objects.filter(profile_id=person).order_by("-id").first()
    assert entry.status == "withdrawn" and entry.source.name == "dest-mc"
    assert entry.channel == "destination-webhook" and entry.purpose == "email_marketing"
    assert entry.captured_at.isoformat() == "2026-11-21T10:00:00+00:00"  # when it fired
    allowed = set(profiles_allowed_for("email_marketing").values_list("pk", flat=True))
    assert person not in allowed and audience.profile(1) in allowed
    # Sent again: nothing new. Other event types and other lists: acknowledged, ignored.
    again = _webhook(client, destination, type="unsubscribe", **{
        "data[email]": "person0@cdp.test", "data[list_id]": LIST_ID})
    assert again.json()["withdrawn"] == 0
    for form in ({"type": "profile", "data[email]": "person1@cdp.test"},
                 {"type": "cleaned", "data[email]": "person1@cdp.test",
                  "data[list_id]": "another"}):
        answer = _webhook(client, destination, **{**form})
        assert answer.status_code == 200 and answer.json()["withdrawn"] == 0
    assert audience.profile(1) in set(
        profiles_allowed_for("email_marketing").values_list("pk", flat=True))
    cleaned = _webhook(client, destination, **{
        "type": "cleaned", "data[email]": "person1@cdp.test", "data[list_id]": LIST_ID})
    assert cleaned.json()["withdrawn"] == 1


def test_mailchimp_webhook_refuses_a_wrong_token(client, audience, mailchimp_sync):
    destination = mailchimp_sync.destination
    assert _webhook(client, destination, token="guess").status_code == 403
    assert _webhook(client, destination, token="guess", type="unsubscribe",
                    **{"data[email]": "person0@cdp.test"}).status_code == 403
    no_token = client.get(f"/api/v1/destinations/{destination.pk}/webhooks/mailchimp")
    assert no_token.status_code == 403
    assert client.get("/api/v1/destinations/999999/webhooks/mailchimp?token=x"
                      ).status_code == 404


def test_schema_documents_the_connector_endpoints(client, db):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    for path in ("/api/v1/destinations/", "/api/v1/destinations/{id}", "/api/v1/syncs/",
                 "/api/v1/syncs/{id}", "/api/v1/syncs/{id}/run", "/api/v1/syncs/{id}/runs",
                 "/api/v1/erasure-deliveries",
                 "/api/v1/destinations/{id}/webhooks/mailchimp"):
        assert path in schema["paths"], path
    props = schema["components"]["schemas"]["DestinationOutput"]["properties"]
    assert "credentials" not in props and "credentials_set" in props


def test_readme_verification_recipe_accepts_our_signature():
    """The receiver snippet in the README verifies what connectors.webhook signs."""
    import re
    import time
    from pathlib import Path

    from connectors.webhook import signature

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Activation (connectors)", 1)[1]
    snippet = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    exec(snippet, namespace)  # noqa: S102 - our own README
    stamp, body = str(int(time.time())), b'{"type":"audience.diff"}'
    header = signature("whsec", stamp, body)
    assert namespace["verify"]("whsec", stamp, body, header)
    assert not namespace["verify"]("other", stamp, body, header)
    assert not namespace["verify"]("whsec", str(int(time.time()) - 3600), body,
                                   signature("whsec", str(int(time.time()) - 3600), body))
