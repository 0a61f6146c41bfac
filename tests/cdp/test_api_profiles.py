"""GET /api/v1/profiles/{id}: records in clear, audited reads, scopes and per-key throttling."""

import uuid

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from cdp.models import AuditEvent, SourceRecord
from cdp.services.api_keys import api_key_create

RECORDS_URL = "/api/v1/records/batch"
EVENTS_URL = "/api/v1/events/batch"


def _url(profile_id) -> str:
    return f"/api/v1/profiles/{profile_id}"


def _client_for(name: str, scopes: list[str], rate: str = "") -> APIClient:
    _, raw = api_key_create(name=name, scopes=scopes, rate=rate)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


@pytest.fixture
def profile_id(ingest_client, source, shop) -> uuid.UUID:
    """A profile with a CRM record, a shop record sharing its email, and one event."""
    ingest_client.post(RECORDS_URL, {"source": "crm", "records": [{
        "external_id": "c1", "first_name": "Élodie", "last_name": "Martin",
        "email": "Elodie.Martin@Example.fr", "phone": "06 12 34 56 78",
        "birth_date": "12/04/1990", "city": "Lyon", "attributes": {"tier": "gold"},
    }]}, format="json")
    ingest_client.post(RECORDS_URL, {"source": "shop", "records": [{
        "external_id": "s9", "email": "elodie.martin@example.fr", "customer_id": "CUST-9",
    }]}, format="json")
    ingest_client.post(EVENTS_URL, {"source": "shop", "events": [{
        "id": "o1", "type": "purchase", "occurred_at": "2024-05-01T10:00:00Z",
        "customer_id": "CUST-9", "value": "42.5",
    }]}, format="json")
    return SourceRecord.objects.get(external_id="c1").profile_id


def test_read_key_gets_records_in_clear(read_client, profile_id):
    """A read key sees every record of the profile with its personal data decrypted."""
    response = read_client.get(_url(profile_id))
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(profile_id)
    assert body["event_count"] == 1 and body["last_event_at"] is not None
    records = {r["source"]: r for r in body["records"]}
    assert set(records) == {"crm", "shop"}
    crm = records["crm"]
    assert crm["external_id"] == "c1" and crm["implicit"] is False
    assert (crm["first_name"], crm["last_name"]) == ("Élodie", "Martin")
    assert crm["email"] == "elodie.martin@example.fr" and crm["phone"] == "+33612345678"
    assert crm["birth_date"] == "1990-04-12" and crm["city"] == "Lyon"
    assert crm["attributes"] == {"tier": "gold"} and crm["customer_id"] is None
    assert records["shop"]["customer_id"] == "CUST-9"


def test_read_is_audited(read_client, profile_id):
    """Each read writes a profile.view audit row naming the API key and the profile."""
    before = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    read_client.get(_url(profile_id))
    read_client.get(_url(profile_id))
    audits = AuditEvent.objects.filter(action="profile.view", id__gt=before)
    assert audits.count() == 2
    audit = audits.first()
    assert audit.actor == "api-key:read-key"
    assert audit.profile_id == profile_id and audit.object_id == str(profile_id)
    assert "elodie" not in str(audit.details).lower()


def test_unknown_profile_is_404_and_not_audited(read_client, db):
    """An id that names no profile answers 404."""
    response = read_client.get(_url(uuid.uuid4()))
    assert response.status_code == 404
    assert not AuditEvent.objects.filter(action="profile.view").exists()
    assert read_client.get("/api/v1/profiles/not-a-uuid").status_code == 404


def test_ingest_only_key_is_403(ingest_client, profile_id):
    """A key without the read scope cannot read profiles, and nothing is audited."""
    assert ingest_client.get(_url(profile_id)).status_code == 403
    assert not AuditEvent.objects.filter(action="profile.view").exists()


def test_admin_key_can_read(profile_id):
    """The admin scope includes read."""
    assert _client_for("admin-key", ["admin"]).get(_url(profile_id)).status_code == 200


def test_missing_or_bad_key_is_401(client, profile_id):
    """Without a key, or with a wrong or revoked one, the answer is 401."""
    assert client.get(_url(profile_id)).status_code == 401
    bad = client.get(_url(profile_id), HTTP_AUTHORIZATION="Api-Key cdp_0000_nope")
    assert bad.status_code == 401
    assert client.get(_url(profile_id), HTTP_AUTHORIZATION="Bearer x").status_code == 401
    assert not AuditEvent.objects.filter(action="profile.view").exists()


def test_throttle_is_per_key(profile_id):
    """A key limited to 3/min gets 429 on its 4th request while another key is still served."""
    cache.clear()
    limited = _client_for("limited", ["read"], rate="3/min")
    other = _client_for("other", ["read"], rate="3/min")
    codes = [limited.get(_url(profile_id)).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert other.get(_url(profile_id)).status_code == 200
    assert limited.get(_url(profile_id)).status_code == 429
    # Throttled requests never reached the view, so they were not audited.
    assert AuditEvent.objects.filter(action="profile.view").count() == 4


def test_reading_a_profile_costs_the_same_queries_whatever_its_record_count(read_client,
                                                                           source):
    """Records' data keys are loaded in one query, not one a record."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from cdp.services.record_parsing import ParsedRecord
    from cdp.services.records import records_upsert

    def queries_for(count: int, email: str) -> int:
        records_upsert(source=source, records=[
            ParsedRecord(f"{email}-{n}", {"email": email, "first_name": f"P{n}"})
            for n in range(count)])
        profile_id = SourceRecord.objects.get(external_id=f"{email}-0").profile_id
        read_client.get(_url(profile_id))  # first use of the key and of the audit statements
        with CaptureQueriesContext(connection) as captured:
            body = read_client.get(_url(profile_id)).json()
        assert len(body["records"]) == count
        return len(captured)

    assert queries_for(1, "one@example.fr") == queries_for(6, "six@example.fr")
