"""The audit log's hash chain: chaining, concurrent writers, tampering, retention purge."""

import io
import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.db.utils import DataError, OperationalError, ProgrammingError
from django.test import override_settings

from cdp.audit import _canonical_parts, audit_canonical, audit_details, audit_hash, audit_record
from cdp.models import AuditEvent, Profile
from cdp.services.audit_purge import audit_purge
from cdp.services.audit_verify import VerifyResult, audit_verify
from cdp.tasks import audit_purge_task


def _write(count: int, **fields) -> list[AuditEvent]:
    return [audit_record(actor="user:ana", action=f"test.{i}", **fields) for i in range(count)]


def _raw(sql: str, params: list) -> None:
    """As the superuser the tests connect as, with the append-only trigger off."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE cdp_auditevent DISABLE TRIGGER cdp_audit_append_only")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE cdp_auditevent ENABLE TRIGGER cdp_audit_append_only")


def _at(year: int, month: int = 1, day: int = 1):
    return mock.patch("cdp.audit.timezone.now", return_value=datetime(year, month, day, tzinfo=UTC))


def test_each_row_hashes_its_content_and_the_previous_hash(db):
    """row_hash = SHA-256(prev_hash + canonical content), prev_hash = the row before's hash."""
    tail = AuditEvent.objects.order_by("-id").values_list("row_hash", flat=True).first() or ""
    profile = Profile.objects.create()
    # Numbers jsonb prints differently from Python (1e+20) still verify once read back.
    details = {"é": [1, 2.5, None], "b": {"z": 1, "a": 2}, "big": 1e20, "odd": 1.2345e25,
               "small": 1.5e-7, "sum": 0.1 + 0.2}
    rows = _write(3, profile_id=profile.pk, details=details)
    assert [r.prev_hash for r in rows] == [tail, rows[0].row_hash, rows[1].row_hash]
    assert [r.id for r in rows] == sorted(r.id for r in rows)
    for row in rows:
        stored = AuditEvent.objects.filter(pk=row.pk).values().get()
        assert stored["row_hash"] == row.row_hash
        assert audit_hash(stored["prev_hash"], audit_canonical(stored)) == row.row_hash
    assert audit_verify() == audit_verify(chunk_size=2)
    assert audit_verify().intact and audit_verify().checked == AuditEvent.objects.count()


@pytest.mark.parametrize("details", [
    {},
    {"purpose": "api", "records": 2, "masked": False},
    # Keys named like the split points, nested before them, must not confuse the cut.
    {"id": 7, "prev_hash": "x", "n": {"id": [1, {"prev_hash": None}]}, ",\"id\":": "\"id\""},
    {"é": "ünïcødé ☃", "big": 1e20, "small": 1.5e-7, "list": [None, True, 2.5]},
])
@pytest.mark.parametrize("prev_hash", ["", "ab" * 32])
def test_canonical_parts_rebuild_the_canonical_text(details, prev_hash):
    """The text hashed in SQL (parts around the id and prev_hash) is audit_canonical's."""
    row = {
        "id": 1234567, "at": datetime(2026, 3, 1, 12, 30, 5, 120, tzinfo=UTC),
        "actor": "api-key:x", "action": "profile.view", "object_type": "profile",
        "object_id": "o\"1", "profile_id": uuid.uuid4() if details else None,
        "details": audit_details(details), "reason": "why", "request_id": "req-1",
        "ip_prefix": "192.0.2.0/24", "prev_hash": prev_hash,
    }
    before_id, before_prev, after_prev = _canonical_parts(row)
    rebuilt = before_id + str(row["id"]) + before_prev + json.dumps(prev_hash) + after_prev
    assert rebuilt == audit_canonical(row)


def test_rows_hashed_in_python_and_in_the_database_form_one_chain(db):
    """Rows written before the hash moved into SQL (hashed in Python, as the SQLite demo
    still does) and rows written now chain onto each other and verify alike."""
    tail = AuditEvent.objects.order_by("-id").values_list("row_hash", flat=True).first() or ""
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence('cdp_auditevent', 'id'))")
        row = {
            "id": cursor.fetchone()[0], "at": datetime(2025, 6, 1, tzinfo=UTC),
            "actor": "user:old", "action": "profile.view", "object_type": "profile",
            "object_id": "p", "profile_id": None, "details": {"records": 1, "x": 0.1 + 0.2},
            "reason": "", "request_id": "", "ip_prefix": "", "prev_hash": tail,
        }
        row_hash = audit_hash(tail, audit_canonical(row))
        cursor.execute(
            "INSERT INTO cdp_auditevent (id, at, actor, action, object_type, object_id, "
            "profile_id, details, reason, request_id, ip_prefix, prev_hash, row_hash) "
            "VALUES (%s, %s, %s, %s, %s, %s, NULL, %s, '', '', '', %s, %s)",
            [row["id"], row["at"], row["actor"], row["action"], row["object_type"],
             row["object_id"], json.dumps(row["details"]), tail, row_hash],
        )
    new = _write(2)
    assert new[0].prev_hash == row_hash and new[1].prev_hash == new[0].row_hash
    assert audit_verify() == VerifyResult(AuditEvent.objects.count())


def test_an_audit_row_that_cannot_be_written_fails_the_callers_transaction(db):
    """No savepoint: the caller's writes (and so the read being audited) fail with it."""
    with pytest.raises(DataError), transaction.atomic():
        profile = Profile.objects.create()
        audit_record(actor="x" * 151, action="profile.view", profile_id=profile.pk)
    assert not Profile.objects.filter(pk=profile.pk).exists()
    assert audit_verify().intact


def test_a_lost_prepared_statement_fails_one_write_then_is_prepared_again(db):
    """The append statement is prepared once per session. If something drops it
    (DISCARD ALL, DEALLOCATE), that write fails, never silently skips, and the next one
    prepares it again; a session that still has it does not prepare it twice."""
    _write(1)
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    with pytest.raises(OperationalError), transaction.atomic():
        audit_record(actor="user:ana", action="test.lost")
    assert not AuditEvent.objects.filter(action="test.lost").exists()
    _write(1)
    connection._cdp_audit_prepared = None  # the statement is there, our marker is not
    _write(1)
    assert audit_verify() == VerifyResult(AuditEvent.objects.count())


def test_verify_command_reports_an_intact_chain(db):
    """verify_audit_chain prints one line with the number of rows checked."""
    _write(4)
    out = io.StringIO()
    call_command("verify_audit_chain", stdout=out)
    assert out.getvalue().strip() == f"audit chain intact: {AuditEvent.objects.count()} rows"


def test_a_row_edited_through_raw_sql_is_named(db):
    """An UPDATE with the trigger disabled (superuser) is found at exactly that row."""
    rows = _write(5)
    _raw("UPDATE cdp_auditevent SET actor = 'user:mallory' WHERE id = %s", [rows[2].pk])
    result = audit_verify()
    assert result.first_broken_id == rows[2].pk and "content" in result.reason
    err = io.StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command("verify_audit_chain", stderr=err)
    assert exit_info.value.code == 1
    line = err.getvalue().strip()
    assert line.startswith(f"audit chain broken at row {rows[2].pk}: ") and "\n" not in line


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(db):
    """Rewriting a row and its row_hash consistently is caught by the following row."""
    rows = _write(4)
    forged = AuditEvent.objects.filter(pk=rows[1].pk).values().get() | {"actor": "user:eve"}
    _raw("UPDATE cdp_auditevent SET actor = %s, row_hash = %s WHERE id = %s",
         ["user:eve", audit_hash(forged["prev_hash"], audit_canonical(forged)), rows[1].pk])
    result = audit_verify()
    assert result.first_broken_id == rows[2].pk
    assert f"row {rows[1].pk}" in result.reason


def test_a_deleted_middle_row_is_caught(db):
    """Removing a row breaks the link of the row after it."""
    rows = _write(5)
    _raw("DELETE FROM cdp_auditevent WHERE id = %s", [rows[2].pk])
    assert audit_verify().first_broken_id == rows[3].pk


def test_deleting_the_oldest_rows_without_the_purge_is_caught(db):
    """The chain may only start after a gap if an audit.purge row recorded the anchor."""
    rows = _write(3)
    _raw("DELETE FROM cdp_auditevent WHERE id <= %s", [rows[0].pk])
    result = audit_verify()
    assert result.first_broken_id == rows[1].pk and "audit.purge" in result.reason


def test_a_row_written_around_audit_record_is_named(db):
    """A direct INSERT carries no hash: verify says so."""
    _write(2)
    stray = AuditEvent.objects.create(actor="t", action="x")
    assert audit_verify() == VerifyResult(
        AuditEvent.objects.count() - 1, stray.pk, "not chained (written outside audit_record)")


def test_purge_deletes_past_retention_and_chains_its_own_row(db):
    """Rows older than the retention go; the audit.purge row records count, range and
    anchor, is itself chained, and the shortened chain still verifies."""
    with _at(2025, 1, 10):
        old = _write(3)
    with _at(2026, 1, 10):
        kept = _write(2)
    result = audit_purge(now=datetime(2026, 2, 1, tzinfo=UTC), retention_days=365)
    assert result.deleted == 3 and not AuditEvent.objects.filter(pk__in=[r.pk for r in old])
    purge = result.event
    assert purge.action == "audit.purge" and purge.prev_hash == kept[-1].row_hash
    assert purge.details["deleted"] == 3 and purge.details["anchor"] == old[-1].row_hash
    assert (purge.details["first_id"], purge.details["last_id"]) == (old[0].pk, old[-1].pk)
    assert AuditEvent.objects.get(pk=kept[0].pk).prev_hash == old[-1].row_hash
    assert audit_verify() == VerifyResult(3)
    # Safe to run twice: nothing is old enough any more, and no row is added.
    assert audit_purge(now=datetime(2026, 2, 1, tzinfo=UTC), retention_days=365).deleted == 0
    assert AuditEvent.objects.count() == 3
    # The DELETE was allowed for the purge's own statements only.
    with pytest.raises(ProgrammingError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=kept[0].pk).delete()


def test_purge_of_every_row_chains_onto_the_last_deleted(db):
    """When all rows are past retention, the purge row itself carries the anchor."""
    with _at(2024):
        rows = _write(2)
    before = AuditEvent.objects.count()
    result = audit_purge(now=datetime(2026, 1, 1, tzinfo=UTC))
    assert result.deleted == before and AuditEvent.objects.count() == 1
    assert result.event.prev_hash == rows[-1].row_hash == result.event.details["anchor"]
    assert audit_verify().intact
    # A gap after the purge is still caught.
    _write(2)
    _raw("DELETE FROM cdp_auditevent WHERE id = %s", [result.event.pk])
    assert not audit_verify().intact


def test_purge_task_is_scheduled_nightly_and_uses_the_retention(db):
    """Beat runs the task at 03:30; the retention defaults to CNIL's 12 months."""
    entry = settings.CELERY_BEAT_SCHEDULE["cdp-audit-purge"]
    assert entry["task"] == "cdp.tasks.audit_purge_task"
    assert (entry["schedule"].hour, entry["schedule"].minute) == ({3}, {30})
    assert settings.CDP_AUDIT_RETENTION_DAYS == 365
    with _at(2020):
        _write(1)
    assert audit_purge_task.apply().get() >= 1
    assert AuditEvent.objects.filter(action="audit.purge").exists() and audit_verify().intact


def test_disabled_auditing_writes_nothing(db):
    """The benchmark-only switch: with CDP_AUDIT_ENABLED off no row is stored."""
    before = AuditEvent.objects.count()
    with override_settings(CDP_AUDIT_ENABLED=False):
        event = audit_record(actor="t", action="x")
    assert event.pk is None and AuditEvent.objects.count() == before


def _in_thread(target, *args) -> threading.Thread:
    def run() -> None:
        try:
            target(*args)
        finally:
            connection.close()  # each thread has its own connection

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_concurrent_writers_keep_one_valid_chain(transactional_db):
    """Three threads writing at once, some two rows per transaction: ids and chain order
    agree, every link holds."""
    start = threading.Barrier(3)

    def writer(name: str) -> None:
        start.wait()
        for i in range(40):
            with transaction.atomic():
                audit_record(actor=f"thread:{name}", action="test.concurrent", details={"i": i})
                if i % 4 == 0:
                    audit_record(actor=f"thread:{name}", action="test.concurrent")

    for thread in [_in_thread(writer, name) for name in "abc"]:
        thread.join()
    assert AuditEvent.objects.filter(action="test.concurrent").count() == 3 * 50
    assert audit_verify() == VerifyResult(AuditEvent.objects.count())


def test_a_writer_waits_for_the_previous_writers_commit(transactional_db):
    """The advisory lock holds a second writer until the first one's transaction ends,
    so it chains onto the committed row rather than onto the same predecessor."""
    written, release, done = threading.Event(), threading.Event(), threading.Event()
    rows: dict[str, AuditEvent] = {}

    def first() -> None:
        with transaction.atomic():
            rows["a"] = audit_record(actor="thread:a", action="test.lock")
            written.set()
            release.wait(10)

    def second() -> None:
        written.wait(10)
        rows["b"] = audit_record(actor="thread:b", action="test.lock")
        done.set()

    threads = [_in_thread(first), _in_thread(second)]
    assert not done.wait(0.5), "the second writer should be waiting for the lock"
    release.set()
    for thread in threads:
        thread.join()
    assert rows["b"].prev_hash == rows["a"].row_hash and rows["b"].id > rows["a"].id
    assert audit_verify().intact


def test_purge_uses_the_configured_retention(db):
    """The retention comes from CDP_AUDIT_RETENTION_DAYS when not given."""
    with _at(2026, 1, 1):
        _write(1)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with override_settings(CDP_AUDIT_RETENTION_DAYS=183):
        assert audit_purge(now=start + timedelta(days=100)).deleted == 0
        assert audit_purge(now=start + timedelta(days=200)).deleted == 1
