"""Consent API: POST /consents/batch, GET /profiles/{id}/consents, GET /consents/export,
POST/DELETE /profiles/{id}/restriction; scopes, per-item errors, audited reads."""

import csv
import io
import json
import uuid

import pytest

from cdp.models import AuditEvent, ConsentEntry, Profile

BATCH = "/api/v1/consents/batch"
EXPORT = "/api/v1/consents/export"


def _item(**fields) -> dict:
    item = {"email": "Lea.Moreau@Example.fr", "purpose": "email_marketing",
            "status": "granted", "captured_at": "2025-05-01T10:00:00+02:00",
            "notice_version": "2025.1", "channel": "web", "form": "footer"}
    item.update(fields)
    return {k: v for k, v in item.items() if v is not None}


def _post(client, *items, source="crm"):
    return client.post(BATCH, {"source": source, "consents": list(items)}, format="json")


def _last_audit_id() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


@pytest.fixture
def recorded(ingest_client, source) -> uuid.UUID:
    """Lea granted email marketing, then withdrew it; granted SMS once."""
    response = _post(ingest_client, _item(), _item(purpose="sms_marketing"),
                     _item(status="withdrawn", captured_at="2025-06-01T10:00:00+02:00"))
    assert response.status_code == 200, response.content
    return ConsentEntry.objects.values_list("profile_id", flat=True).first()


def test_batch_reports_counts_and_per_item_errors(ingest_client, source):
    """Good items are stored; each bad one comes back with its index, field and message."""
    response = _post(ingest_client, _item(), _item(purpose="telepathy"), "nope",
                     _item(status="withdrawn", captured_at="someday"),
                     _item(ip="192.0.2.1", captured_at="2025-05-02T10:00:00+02:00"))
    assert response.status_code == 200
    body = response.json()
    assert (body["received"], body["accepted"], body["created"]) == (5, 2, 2)
    assert {(e["index"], e["field"], e["message"]) for e in body["errors"]} == {
        (1, "purpose", "unknown purpose"),
        (2, None, "must be an object"),
        (3, "captured_at", "not an ISO 8601 date-time"),
    }
    assert ConsentEntry.objects.count() == 2


def test_resent_batch_is_counted_as_duplicates(ingest_client, source):
    assert _post(ingest_client, _item()).json()["created"] == 1
    again = _post(ingest_client, _item()).json()
    assert (again["created"], again["duplicates"]) == (0, 1)
    assert ConsentEntry.objects.count() == 1


def test_bad_envelope_or_no_valid_item_is_400(ingest_client, source):
    assert _post(ingest_client, _item(), source="nowhere").status_code == 400
    response = ingest_client.post(BATCH, {"source": "crm", "consents": []}, format="json")
    assert response.json()["errors"][0]["field"] == "consents"
    response = _post(ingest_client, _item(status="bogus"))
    assert response.status_code == 400 and response.json()["accepted"] == 0


def test_batch_needs_the_ingest_scope(read_client, dpo_client, source):
    assert _post(read_client, _item()).status_code == 403
    assert _post(dpo_client, _item()).status_code == 403
    assert not ConsentEntry.objects.exists()


def test_profile_consents_show_current_state_and_history_audited(read_client, recorded):
    """Current per purpose (the withdrawal for email), full history newest first; the read
    of this personal data is audited."""
    start = _last_audit_id()
    response = read_client.get(f"/api/v1/profiles/{recorded}/consents")
    assert response.status_code == 200
    body = response.json()
    assert body["profile"] == str(recorded) and body["restricted_at"] is None
    assert set(body["current"]) == {"email_marketing", "sms_marketing"}
    email, sms = body["current"]["email_marketing"], body["current"]["sms_marketing"]
    assert (email["status"], email["allowed"]) == ("withdrawn", False)
    assert (sms["status"], sms["allowed"]) == ("granted", True)
    assert sms["source"] == "crm" and sms["evidence"] == {"form": "footer"}
    assert sms["notice_version"] == "2025.1" and sms["recorded_by"] == "api-key:ingest-key"
    assert [(h["purpose"], h["status"]) for h in body["history"]] == [
        ("email_marketing", "withdrawn"), ("sms_marketing", "granted"),
        ("email_marketing", "granted")]
    audit = AuditEvent.objects.get(id__gt=start, action="consent.view")
    assert audit.profile_id == recorded and audit.actor == "api-key:read-key"


def test_profile_consents_of_unknown_profile_is_404(read_client, ingest_client):
    assert read_client.get(f"/api/v1/profiles/{uuid.uuid4()}/consents").status_code == 404
    assert ingest_client.get(f"/api/v1/profiles/{uuid.uuid4()}/consents").status_code == 403


def test_export_streams_csv_and_json_and_is_audited(dpo_client, recorded):
    start = _last_audit_id()
    response = dpo_client.get(EXPORT, {"format": "csv", "since": "2025-05-01",
                                       "until": "2025-05-31"})
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert sorted(r["purpose"] for r in rows) == ["email_marketing", "sms_marketing"]
    assert {r["status"] for r in rows} == {"granted"}
    assert json.loads(rows[0]["evidence"]) == {"form": "footer"}

    response = dpo_client.get(EXPORT, {"subject": str(recorded), "purpose": "email_marketing"})
    entries = json.loads(b"".join(response.streaming_content))
    assert [e["status"] for e in entries] == ["granted", "withdrawn"]
    assert {e["profile_id"] for e in entries} == {str(recorded)}

    audits = AuditEvent.objects.filter(id__gt=start, action="consent.export").order_by("id")
    assert [a.details["format"] for a in audits] == ["csv", "json"]
    assert audits[0].details["since"].startswith("2025-05-01")
    assert audits[1].profile_id == recorded and audits[1].details["via"] == "api"


def test_export_refuses_non_dpo_keys_and_bad_filters(read_client, ingest_client, dpo_client,
                                                     db):
    assert read_client.get(EXPORT).status_code == 403
    assert ingest_client.get(EXPORT).status_code == 403
    start = _last_audit_id()
    response = dpo_client.get(EXPORT, {"since": "last week", "format": "xml"})
    assert response.status_code == 400
    assert set(response.json()) == {"since", "format"}
    assert not AuditEvent.objects.filter(id__gt=start, action="consent.export").exists()


def test_restriction_api_needs_dpo_and_a_reason(dpo_client, read_client, recorded):
    url = f"/api/v1/profiles/{recorded}/restriction"
    assert read_client.post(url, {"reason": "x"}, format="json").status_code == 403
    assert dpo_client.post(url, {}, format="json").status_code == 400
    response = dpo_client.post(url, {"reason": "Art. 18 request #42"}, format="json")
    assert response.status_code == 200
    assert response.json()["changed"] is True and response.json()["restricted_at"]
    assert Profile.objects.get(pk=recorded).restricted_at is not None
    again = dpo_client.post(url, {"reason": "twice"}, format="json").json()
    assert again["changed"] is False
    lifted = dpo_client.delete(url, {"reason": "request closed"}, format="json").json()
    assert lifted == {"profile": str(recorded), "restricted_at": None, "changed": True}
    actions = list(AuditEvent.objects.filter(profile_id=recorded, action__startswith="profile.")
                   .order_by("id").values_list("action", "reason"))
    assert actions == [("profile.restrict", "Art. 18 request #42"),
                       ("profile.unrestrict", "request closed")]
    missing = f"/api/v1/profiles/{uuid.uuid4()}/restriction"
    assert dpo_client.post(missing, {"reason": "x"}, format="json").status_code == 404


def test_schema_documents_the_consent_endpoints(client, db):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert {"/api/v1/consents/batch", "/api/v1/consents/export",
            "/api/v1/profiles/{profile_id}/consents",
            "/api/v1/profiles/{profile_id}/restriction"} <= set(schema["paths"])
