"""Audited reads sent ahead on a second connection (cdp.audit_reads): the row is durable
before the answer leaves, an answer whose read could not be audited is withheld, and
inside a transaction the row still belongs to that transaction."""

import logging
import time

import psycopg2
import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

import cdp.audit_reads as audit_reads
from cdp.models import AuditEvent, Source, SourceRecord
from cdp.services.api_keys import api_key_create
from cdp.services.audit_verify import audit_verify
from cdp.services.profiles import profile_view
from cdp.services.record_parsing import ParsedRecord
from cdp.services.records import records_upsert

EMAIL = "elodie.martin@example.fr"


@pytest.fixture
def profile_id(transactional_db):
    source = Source.objects.create(name="crm", kind=Source.Kind.CRM)
    records_upsert(source=source, records=[ParsedRecord("c1", {
        "first_name": "Élodie", "last_name": "Martin", "email": EMAIL, "city": "Lyon"})])
    return SourceRecord.objects.get(external_id="c1").profile_id


@pytest.fixture
def client(transactional_db) -> APIClient:
    _, raw = api_key_create(name="reader", scopes=["read"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return api


@pytest.fixture
def sent_ahead(monkeypatch) -> list:
    """Appends sent on the asynchronous connection (to tell that path from the other)."""
    sent: list = []
    original = audit_reads._Writer.send

    def spy(self, params):
        sent.append(params)
        return original(self, params)

    monkeypatch.setattr(audit_reads._Writer, "send", spy)
    return sent


def test_a_read_is_in_the_chain_before_its_answer_arrives(client, profile_id, sent_ahead):
    """Served outside a transaction, the row goes out on the second connection, and it is
    committed, with the request's id, by the time the client has the answer."""
    response = client.get(f"/api/v1/profiles/{profile_id}", HTTP_X_REQUEST_ID="req-42")
    assert response.status_code == 200 and response.json()["records"][0]["email"] == EMAIL
    assert len(sent_ahead) == 1
    row = AuditEvent.objects.get(action="profile.view", profile_id=profile_id)
    assert row.request_id == "req-42" and row.actor == "api-key:reader"
    assert row.details == {"purpose": "api", "records": 1, "masked": False}
    assert audit_verify().intact


def test_reads_and_other_writers_keep_one_valid_chain(client, profile_id, sent_ahead):
    """Appends sent ahead interleave with ordinary ones (the same advisory lock)."""
    from cdp.audit import audit_record

    for n in range(15):
        assert client.get(f"/api/v1/profiles/{profile_id}").status_code == 200
        audit_record(actor="t", action="test.other", details={"n": n})
    assert len(sent_ahead) == 15
    assert AuditEvent.objects.filter(action="profile.view").count() == 15
    assert audit_verify().intact


def test_an_answer_whose_read_was_not_audited_is_withheld(client, profile_id, caplog,
                                                          monkeypatch):
    """If the server refuses the row, the client gets a 500 without the data, and the
    log says why without quoting the server's message."""
    client.get(f"/api/v1/profiles/{profile_id}")  # the connection and its statements
    with connection.cursor() as cursor:  # the database refuses audit rows for a while
        cursor.execute("ALTER TABLE cdp_auditevent ADD CONSTRAINT test_refuse "
                       "CHECK (action <> 'profile.view') NOT VALID")
    try:
        with caplog.at_level(logging.ERROR):
            response = client.get(f"/api/v1/profiles/{profile_id}")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE cdp_auditevent DROP CONSTRAINT test_refuse")
    body = response.content.decode()
    assert response.status_code == 500 and EMAIL not in body and "Martin" not in body
    assert "answer withheld, audit row not written (CheckViolation)" in caplog.text
    assert "test_refuse" not in caplog.text
    assert AuditEvent.objects.filter(action="profile.view").count() == 1
    assert client.get(f"/api/v1/profiles/{profile_id}").status_code == 200  # recovers


def test_a_dead_connection_is_replaced_without_failing_the_read(client, profile_id,
                                                                 sent_ahead):
    """An idle session the server ended (a restart) is found dead before the next row is
    sent, and replaced. (A session killed while a row is in flight fails that request.)"""
    client.get(f"/api/v1/profiles/{profile_id}")
    with connection.cursor() as cursor:  # as a server restart would
        cursor.execute("SELECT array_agg(pid) FROM pg_stat_activity WHERE "
                       "datname = current_database() AND pid <> pg_backend_pid()")
        pids = cursor.fetchone()[0]
        cursor.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) pid", [pids])
        for _ in range(100):  # termination is asynchronous: wait until they are gone
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)",
                           [pids])
            if cursor.fetchone()[0] == 0:
                break
            time.sleep(0.05)
    assert client.get(f"/api/v1/profiles/{profile_id}").status_code == 200
    assert AuditEvent.objects.filter(action="profile.view").count() == 2
    assert audit_verify().intact


def test_inside_a_transaction_the_row_belongs_to_it(profile_id, sent_ahead):
    """A caller's transaction (a service that reads, then fails) takes the row with it."""
    with audit_reads.audited_reads() as pending:
        with pytest.raises(RuntimeError), transaction.atomic():
            profile_view(profile_id=profile_id, actor="t")
            assert AuditEvent.objects.filter(action="profile.view").count() == 1
            raise RuntimeError("the caller fails after reading")
    assert pending == [] and sent_ahead == []
    assert not AuditEvent.objects.filter(action="profile.view").exists()


def test_outside_a_request_the_row_is_written_at_once(profile_id, sent_ahead):
    """A task or a command reading a profile writes the row before profile_view returns."""
    assert not connection.in_atomic_block
    profile_view(profile_id=profile_id, actor="celery:test")
    assert sent_ahead == []
    assert AuditEvent.objects.filter(action="profile.view", actor="celery:test").count() == 1


def test_the_second_connection_is_closed_with_the_test(client, profile_id):
    client.get(f"/api/v1/profiles/{profile_id}")
    assert not audit_reads._local.writer.conn.closed
    audit_reads.writers_close()
    assert all(w.conn.closed for w in list(audit_reads._open))
    with pytest.raises(psycopg2.InterfaceError):
        audit_reads._local.writer.cursor.execute("SELECT 1")
