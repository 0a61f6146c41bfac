"""POST /api/v1/events/batch: profile resolution, idempotency, implicit records, errors."""

from decimal import Decimal

from cdp.models import Event, Profile, SourceRecord

URL = "/api/v1/events/batch"
RECORDS_URL = "/api/v1/records/batch"
AT = "2024-05-01T10:00:00+02:00"


def _events(items, source="crm"):
    return {"source": source, "events": items}


def _event(event_id, **fields):
    return {"id": event_id, "type": "purchase", "occurred_at": AT, **fields}


def _records(client, items, source="crm"):
    response = client.post(RECORDS_URL, {"source": source, "records": items}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def test_events_attach_to_the_profile_named_by_each_identifier(ingest_client, source):
    """Email, phone, customer_id and external_id each resolve to their record's profile."""
    _records(ingest_client, [
        {"external_id": "c1", "email": "Elodie@Example.fr"},
        {"external_id": "c2", "phone": "06 12 34 56 78"},
        {"external_id": "c3", "customer_id": "CUST-3"},
        {"external_id": "c4", "last_name": "Durand"},
    ])
    items = [
        _event("e1", email="ELODIE@example.FR", value="19.90"),
        _event("e2", phone="+33 6 12 34 56 78", value=5),
        _event("e3", customer_id="CUST-3", properties={"sku": "A-1"}),
        _event("e4", external_id="c4", type="Page.View"),
    ]
    response = ingest_client.post(URL, _events(items), format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["received"], body["accepted"], body["created"]) == (4, 4, 4)
    assert body["errors"] == []
    owner = {r.external_id: r for r in SourceRecord.objects.all()}
    events = {e.event_id: e for e in Event.objects.all()}
    for event_id, ext in (("e1", "c1"), ("e2", "c2"), ("e3", "c3"), ("e4", "c4")):
        assert events[event_id].profile_id == owner[ext].profile_id
        assert events[event_id].record_id == owner[ext].pk
    assert len({e.profile_id for e in events.values()}) == 4
    assert events["e1"].value == Decimal("19.9") and events["e2"].value == Decimal(5)
    assert events["e3"].properties == {"sku": "A-1"} and events["e3"].value is None
    assert events["e4"].type == "page.view"
    assert not SourceRecord.objects.filter(implicit=True).exists()


def test_retried_batch_creates_nothing(ingest_client, source):
    """Resending a batch counts every event as a duplicate and stores nothing new."""
    items = [_event(f"e{i}", email=f"p{i}@example.org", value=i) for i in range(25)]
    first = ingest_client.post(URL, _events(items), format="json").json()
    counts = (Event.objects.count(), SourceRecord.objects.count(), Profile.objects.count())
    retried = [dict(item, value=999) for item in items]
    second = ingest_client.post(URL, _events(retried), format="json")
    assert first["created"] == 25
    assert second.status_code == 200
    assert second.json()["created"] == 0 and second.json()["duplicates"] == 25
    assert (Event.objects.count(), SourceRecord.objects.count(),
            Profile.objects.count()) == counts
    # A resent event never changes the stored one.
    assert not Event.objects.filter(value=999).exists()


def test_same_event_id_twice_in_one_batch_is_stored_once(ingest_client, source):
    """Duplicates inside one batch are counted as such."""
    body = ingest_client.post(URL, _events([_event("x", email="a@example.org"),
                                            _event("x", email="a@example.org")]),
                              format="json").json()
    assert (body["created"], body["duplicates"]) == (1, 1)
    assert Event.objects.count() == 1


def test_unknown_email_creates_an_implicit_record_that_a_real_one_joins(
    ingest_client, source, shop
):
    """An event for an unknown email makes an implicit record; a later real record joins it."""
    body = ingest_client.post(URL, _events([_event("e1", email="New.Person@Example.org")]),
                              format="json").json()
    assert body["created"] == 1
    stub = SourceRecord.objects.get()
    assert stub.implicit and stub.source == source
    assert "new.person" not in stub.external_id  # the stub's id is a blind index, not the email
    event = Event.objects.get()
    assert event.profile_id == stub.profile_id

    _records(ingest_client, [{"external_id": "s-42", "email": "new.person@example.ORG",
                              "first_name": "Nina"}], source="shop")
    real = SourceRecord.objects.get(source=shop)
    assert not real.implicit
    assert real.profile_id == stub.profile_id == event.profile_id
    assert Profile.objects.count() == 1

    # Further events for that email still land on the same profile, with no new stub.
    ingest_client.post(URL, _events([_event("e2", email="new.person@example.org")]),
                       format="json")
    assert Event.objects.get(event_id="e2").profile_id == stub.profile_id
    assert SourceRecord.objects.count() == 2


def test_bad_items_are_reported_and_valid_ones_stored(ingest_client, source):
    """Each bad item is reported by index and field; the valid items of the batch are kept."""
    items = [
        _event("ok1", email="a@example.org"),
        {"type": "purchase", "occurred_at": AT, "email": "a@example.org"},
        _event("bad-type", email="a@example.org", type="Not a type!"),
        _event("bad-at", email="a@example.org", occurred_at="yesterday"),
        _event("no-ident"),
        _event("bad-value", email="a@example.org", value="twelve"),
        _event("future", email="a@example.org", occurred_at="2999-01-01T00:00:00Z"),
        _event("bad-email", email="not-an-email"),
        _event("ok2", email="b@example.org", value="12,5"),
    ]
    response = ingest_client.post(URL, _events(items), format="json")
    assert response.status_code == 200
    body = response.json()
    errors = {(e["index"], e["field"]) for e in body["errors"]}
    assert errors == {(1, "id"), (2, "type"), (3, "occurred_at"), (4, "identifier"),
                      (5, "value"), (6, "occurred_at"), (7, "identifier")}
    assert (body["accepted"], body["created"]) == (2, 2)
    assert sorted(Event.objects.values_list("event_id", flat=True)) == ["ok1", "ok2"]
    assert Event.objects.get(event_id="ok2").value == Decimal("12.5")
    assert "twelve" not in response.content.decode()
    assert "not-an-email" not in response.content.decode()


def test_batch_without_any_valid_item_is_400(ingest_client, source):
    """When no item is valid the answer is 400 and nothing is stored."""
    response = ingest_client.post(URL, _events([_event("e1"), {"id": "e2"}]), format="json")
    assert response.status_code == 400
    assert response.json()["accepted"] == 0 and len(response.json()["errors"]) >= 2
    assert Event.objects.count() == 0 and SourceRecord.objects.count() == 0


def test_more_than_10000_events_is_refused_whole(ingest_client, source):
    """A batch above the limit is rejected before any item is stored."""
    items = [_event(f"e{i}", external_id="c1") for i in range(10001)]
    response = ingest_client.post(URL, _events(items), format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "events"
    assert Event.objects.count() == 0 and SourceRecord.objects.count() == 0


def test_unknown_source_is_400(ingest_client, source):
    """Events for a source that does not exist are refused, and no source is created."""
    response = ingest_client.post(URL, _events([_event("e1", email="a@example.org")],
                                               source="nope"), format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "source"
    assert Event.objects.count() == 0 and SourceRecord.objects.count() == 0


def test_read_key_cannot_ingest_events(read_client, source):
    """Posting events needs the ingest scope."""
    response = read_client.post(URL, _events([_event("e1", email="a@example.org")]),
                                format="json")
    assert response.status_code == 403
    assert Event.objects.count() == 0


def test_ingested_events_are_announced_after_commit(
    ingest_client, source, django_capture_on_commit_callbacks
):
    """Other apps learn which profiles and event types a batch touched, once committed."""
    from cdp.signals import events_ingested

    seen = []
    events_ingested.connect(lambda **kw: seen.append(kw), weak=False, dispatch_uid="t")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            ingest_client.post("/api/v1/events/batch", {"source": "crm", "events": [
                {"id": "s1", "type": "purchase", "occurred_at": "2026-01-05T10:00:00+01:00",
                 "email": "sig@example.org", "value": 12}]}, format="json")
    finally:
        events_ingested.disconnect(dispatch_uid="t")
    assert len(seen) == 1 and seen[0]["event_types"] == {"purchase"}
    assert len(seen[0]["profile_ids"]) == 1
