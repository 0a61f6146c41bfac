"""POST /api/v1/records/batch: upsert, per-item errors, idempotent retries, auth."""

from django.db import connection

from cdp.models import Profile, SourceRecord

URL = "/api/v1/records/batch"


def _batch(items, source="crm"):
    return {"source": source, "records": items}


def test_valid_items_are_stored_and_bad_ones_reported(ingest_client, source):
    items = [
        {"external_id": "c1", "first_name": "Élodie", "last_name": "Martin",
         "email": "Elodie.Martin@Example.fr", "phone": "06 12 34 56 78", "city": "Lyon"},
        {"external_id": "c2", "email": "not-an-email"},
        {"first_name": "Nobody"},
        {"external_id": "c3", "birth_date": "31/02/1990"},
        {"external_id": "c4", "last_name": "Durand", "attributes": {"tier": "gold"}},
    ]
    response = ingest_client.post(URL, _batch(items), format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 2 and body["created"] == 2
    assert any(e["index"] == 1 and e["field"] == "email" for e in body["errors"])
    assert any(e["index"] == 2 and e["field"] == "external_id" for e in body["errors"])
    assert any(e["index"] == 3 and e["field"] == "birth_date" for e in body["errors"])
    assert sorted(SourceRecord.objects.values_list("external_id", flat=True)) == ["c1", "c4"]
    rec = SourceRecord.objects.get(external_id="c4")
    assert rec.attributes == {"tier": "gold"}


def test_error_messages_never_echo_the_value(ingest_client, source):
    response = ingest_client.post(
        URL, _batch([{"external_id": "x", "phone": "0999-SECRET-42"}]), format="json"
    )
    assert response.status_code == 400
    assert "SECRET" not in response.content.decode()


def test_retried_batch_changes_nothing(ingest_client, source):
    items = [{"external_id": f"r{i}", "email": f"p{i}@example.org", "last_name": "Petit"}
             for i in range(20)]
    first = ingest_client.post(URL, _batch(items), format="json").json()
    stamps = dict(SourceRecord.objects.values_list("external_id", "updated_at"))
    second = ingest_client.post(URL, _batch(items), format="json").json()
    assert first["created"] == 20
    assert second["created"] == 0 and second["updated"] == 0 and second["unchanged"] == 20
    assert SourceRecord.objects.count() == 20 and Profile.objects.count() == 20
    assert dict(SourceRecord.objects.values_list("external_id", "updated_at")) == stamps


def test_update_changes_only_present_fields(ingest_client, source):
    ingest_client.post(URL, _batch([{"external_id": "u1", "email": "a@example.org",
                                     "city": "Paris"}]), format="json")
    body = ingest_client.post(URL, _batch([{"external_id": "u1", "city": "Lille"}]),
                              format="json").json()
    assert body["updated"] == 1
    rec = SourceRecord.objects.get(external_id="u1")
    assert rec.city == "Lille" and rec.email_bidx is not None


def test_same_email_joins_existing_profile(ingest_client, source, shop):
    ingest_client.post(URL, _batch([{"external_id": "a", "email": "Jo@Example.org"}]),
                       format="json")
    ingest_client.post(URL, _batch([{"external_id": "b", "email": "jo@example.ORG"}],
                                   source="shop"), format="json")
    ingest_client.post(URL, _batch([{"external_id": "c", "email": "other@example.org"}]),
                       format="json")
    a, b, c = (SourceRecord.objects.get(external_id=x) for x in "abc")
    assert a.profile_id == b.profile_id != c.profile_id


def test_no_valid_item_is_400_and_stores_nothing(ingest_client, source):
    response = ingest_client.post(URL, _batch([{"email": "x@example.org"}]), format="json")
    assert response.status_code == 400
    assert SourceRecord.objects.count() == 0


def test_envelope_errors(ingest_client, source):
    assert ingest_client.post(URL, _batch([], source="crm"), format="json").status_code == 400
    unknown = ingest_client.post(URL, _batch([{"external_id": "1"}], source="nope"), format="json")
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["field"] == "source"
    too_many = [{"external_id": str(i), "city": "X"} for i in range(5001)]
    big = ingest_client.post(URL, _batch(too_many), format="json")
    assert big.status_code == 400 and SourceRecord.objects.count() == 0


def test_wrong_or_missing_key_is_refused(client, source, read_client):
    assert client.post(URL, _batch([{"external_id": "1"}]), content_type="application/json",
                       HTTP_AUTHORIZATION="Api-Key cdp_nope_nope").status_code == 401
    assert client.post(URL, _batch([{"external_id": "1"}]),
                       content_type="application/json").status_code == 401
    # A read-only key cannot ingest.
    assert read_client.post(URL, _batch([{"external_id": "1", "city": "X"}]),
                            format="json").status_code == 403
    assert SourceRecord.objects.count() == 0


def test_personal_data_is_not_stored_in_clear(ingest_client, source):
    ingest_client.post(URL, _batch([{
        "external_id": "p1", "first_name": "Gwendoline", "last_name": "Kerbrat",
        "email": "gwendoline.kerbrat@example.org", "phone": "+33 6 98 76 54 32",
        "birth_date": "1984-07-14", "address_line1": "12 rue des Lilas",
    }]), format="json")
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM cdp_sourcerecord")
        rows = cursor.fetchall()
    # bytea comes back as memoryview: look at the raw bytes, not at the object's repr.
    dump = " ".join(
        bytes(v).decode("latin-1") if isinstance(v, memoryview | bytes) else str(v)
        for row in rows for v in row
    ).lower()
    assert "12 rue" not in dump and len(dump) > 500
    for secret in ("kerbrat", "gwendoline", "example.org", "698765432", "1984", "lilas"):
        assert secret not in dump
