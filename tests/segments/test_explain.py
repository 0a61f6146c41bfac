"""GET /api/v1/segments/{id}/explain/{profile_id}: why a profile is (not) a member."""

import datetime as dt

import pytest
from rest_framework.test import APIClient

from cdp.models import AuditEvent, ConsentEntry, Event, Source
from cdp.services.api_keys import api_key_create
from cdp.services.record_parsing import ParsedRecord
from cdp.services.records import records_upsert
from segments.explain import segment_explain
from segments.services import segment_save

NOW = dt.datetime(2026, 6, 10, 12, 0, tzinfo=dt.UTC)
RULE = {"all": [
    {"event": "purchase", "count": {"gte": 3}, "within_days": 7},
    {"consent": "email_marketing"},
    {"attribute": "city", "op": "in", "value": ["Paris", "Lyon"]},
]}


@pytest.fixture
def shopper(db):
    source = Source.objects.create(name="shop")
    records_upsert(source=source, records=[ParsedRecord("s1", {"city": "Paris"})])
    record = source.records.get()
    for day in (1, 2):
        Event.objects.create(source=source, event_id=f"e{day}", profile_id=record.profile_id,
                             type="purchase", occurred_at=NOW - dt.timedelta(days=day),
                             value=10, received_at=NOW)
    Event.objects.create(source=source, event_id="old", profile_id=record.profile_id,
                         type="purchase", occurred_at=NOW - dt.timedelta(days=30),
                         received_at=NOW)
    ConsentEntry.objects.create(profile_id=record.profile_id, purpose="email_marketing",
                                status="granted", captured_at=NOW - dt.timedelta(days=90))
    return record.profile_id


def test_explain_says_which_condition_fails_and_why(shopper):
    """Each condition shows the profile's value and whether it holds."""
    segment = segment_save(actor="t", name="Buyers", slug="buyers", definition=RULE)
    out = segment_explain(segment=segment, profile_id=shopper, actor="user:marketer", now=NOW)
    assert out["matches_now"] is False
    purchases, consent, city = out["tree"]["children"]
    assert purchases["value"] == 2 and purchases["result"] is False
    assert purchases["text"] == "purchase count (last 7 days) = 2, needs gte 3: false"
    assert consent["result"] is True and consent["value"] == "granted"
    assert city["value"] == ["Paris"] and city["result"] is True
    assert purchases["path"] == "$.all[0]" and city["path"] == "$.all[2]"
    assert AuditEvent.objects.filter(action="segment.explain", profile_id=shopper).exists()


def test_explain_endpoint(shopper):
    """The endpoint answers for a read key, 404 for an unknown profile."""
    segment = segment_save(actor="t", name="Buyers", slug="buyers", definition=RULE)
    _, raw = api_key_create(name="reader", scopes=["read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    ok = client.get(f"/api/v1/segments/{segment.pk}/explain/{shopper}")
    assert ok.status_code == 200 and ok.json()["tree"]["op"] == "all"
    missing = client.get(f"/api/v1/segments/{segment.pk}/explain/{'0' * 32}")
    assert missing.status_code == 404
