"""cdp.db.bulk_write: COPY fast path and its fallback when a key appeared meanwhile."""

import datetime as dt
import uuid

import pytest
from django.db import connection, transaction

from cdp.db import INLINE_ROWS, bulk_write, staged_rows
from cdp.models import Profile, SourceRecord

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
COLUMNS = ["source_id", "external_id", "profile_id", "received_at", "updated_at", "city",
           "attributes", "implicit"]


def _row(source, profile, external_id, city):
    return [source.pk, external_id, profile.pk, NOW, NOW, city, {"k": "tab\there"}, False]


def test_fresh_rows_are_copied_and_special_characters_survive(source):
    """Rows COPYed directly keep tabs, newlines and backslashes intact."""
    profile = Profile.objects.create()
    bulk_write(SourceRecord._meta.db_table, COLUMNS,
               [_row(source, profile, "x1", "Saint-Étienne\\n\nline")], fresh=True)
    record = SourceRecord.objects.get(external_id="x1")
    assert record.city == "Saint-Étienne\\n\nline" and record.attributes == {"k": "tab\there"}


def test_fresh_copy_falls_back_to_upsert_when_a_key_already_exists(source):
    """A concurrent writer inserted the key first: the batch upserts instead of failing."""
    profile = Profile.objects.create(id=uuid.uuid4())
    table = SourceRecord._meta.db_table
    bulk_write(table, COLUMNS, [_row(source, profile, "dup", "Paris")], fresh=True)
    bulk_write(table, COLUMNS,
               [_row(source, profile, "dup", "Lyon"), _row(source, profile, "new", "Nice")],
               conflict=["source_id", "external_id"], update=["city"], fresh=True)
    assert dict(SourceRecord.objects.values_list("external_id", "city")) == {
        "dup": "Lyon", "new": "Nice"}
    # The transaction is still usable after the rolled-back COPY.
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


@pytest.mark.parametrize("count", [0, 3, INLINE_ROWS + 1])
def test_staged_rows_join_an_update_inline_or_staged(source, count):
    """A few rows go inline as VALUES, many through a staged table: the UPDATE .. FROM
    they feed moves exactly the rows listed, either way."""
    old, new = Profile.objects.create(), Profile.objects.create()
    bulk_write(SourceRecord._meta.db_table, COLUMNS,
               [_row(source, old, f"r{n}", "Brest") for n in range(count + 2)], fresh=True)
    moving = list(SourceRecord.objects.order_by("pk").values_list("pk", flat=True)[:count])
    with transaction.atomic(), connection.cursor() as cursor:
        staged = staged_rows(cursor, "_test_moves", [("id", "bigint"), ("pid", "uuid")],
                             [(pk, new.pk) for pk in moving])
        cursor.execute(f"UPDATE cdp_sourcerecord r SET profile_id = m.pid FROM {staged} m "  # noqa: S608
                       "WHERE r.id = m.id")
    assert set(SourceRecord.objects.filter(profile_id=new.pk)
               .values_list("pk", flat=True)) == set(moving)
    assert SourceRecord.objects.filter(profile_id=old.pk).count() == 2


def test_background_work_commits_on_its_own_connection_and_hands_back_errors(
        transactional_db):
    """Outside a transaction the work runs on another thread and connection and is
    committed when wait() returns; its error reaches the caller; inside a transaction it
    runs at once on the caller's connection (another one would not see its rows)."""
    from cdp.db import Background

    seen = {}

    def work() -> None:
        seen["connection"] = id(connection.connection)
        Profile.objects.create()

    job = Background(work)
    assert job.overlapped
    assert job.wait() >= 0 and Profile.objects.count() == 1
    assert seen["connection"] != id(connection.connection)

    failing = Background(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        failing.wait()

    with transaction.atomic():
        inline = Background(work)
        assert not inline.overlapped
        assert seen["connection"] == id(connection.connection)
        inline.wait()
    assert Profile.objects.count() == 2
