"""manage.py import_events: properties from extra columns, line-numbered rejects, idempotency."""

import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from cdp.models import Event, Profile, SourceRecord

HEADER = "id,type,occurred_at,value,email,channel,sku\n"


def _write(tmp_path: Path, text: str, name: str = "events.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _import(path: Path, source: str = "shop") -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_events", str(path), "--source", source, "--no-progress",
                 stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_events_are_imported_with_extra_columns_as_properties(db, tmp_path):
    """Known columns fill the event; other non-empty columns become its properties."""
    path = _write(tmp_path, HEADER + (
        "o1,purchase,2024-05-01T10:00:00+02:00,19.90,Anne@Example.org,web,A-1\n"
        "o2,purchase,2024-05-02T11:00:00Z,\"5,5\",anne@example.org,store,\n"
        "v1,page_view,2024-05-03 09:00:00,,bob@example.org,,\n"
    ))
    out, err = _import(path)
    assert "3 of 3 rows accepted (created 3, already present 0); 0 rejected" in out
    events = {e.event_id: e for e in Event.objects.all()}
    assert events["o1"].properties == {"channel": "web", "sku": "A-1"}
    assert events["o2"].properties == {"channel": "store"}
    assert events["v1"].properties == {} and events["v1"].value is None
    assert events["o1"].value == Decimal("19.9") and events["o2"].value == Decimal("5.5")
    assert events["o1"].profile_id == events["o2"].profile_id != events["v1"].profile_id
    # Both people were unknown: each got an implicit record and a profile.
    assert SourceRecord.objects.filter(implicit=True).count() == 2
    assert Profile.objects.count() == 2


def test_events_join_existing_records(db, tmp_path, shop):
    """An event whose email matches an imported record lands on that record's profile."""
    records = _write(tmp_path, "id,email\nc1,anne@example.org\n", name="records.csv")
    call_command("import_records", str(records), "--source", "crm", "--no-progress",
                 stdout=io.StringIO(), stderr=io.StringIO())
    _import(_write(tmp_path, HEADER + "o1,purchase,2024-05-01T10:00:00Z,1,ANNE@example.org,,\n"))
    record = SourceRecord.objects.get(external_id="c1")
    assert Event.objects.get().profile_id == record.profile_id
    assert not SourceRecord.objects.filter(implicit=True).exists()


def test_rejected_rows_are_reported_with_their_line(db, tmp_path):
    """Rows with a bad occurred_at or no identifier are rejected by line; the rest stored."""
    path = _write(tmp_path, HEADER + (
        "o1,purchase,2024-05-01T10:00:00Z,10,a@example.org,,\n"
        "o2,purchase,01/05/2024 10h,10,a@example.org,,\n"
        "o3,purchase,2024-05-01T10:00:00Z,10,,web,\n"
        "o4,purchase,2024-05-01T10:00:00Z,ten,a@example.org,,\n"
    ))
    out, err = _import(path)
    assert "2 of 4 rows accepted (created 2, already present 0); 2 rejected, 1 warnings" in out
    assert "line 3: occurred_at: not an ISO 8601 date-time (row rejected)" in err
    assert "line 4: identifier:" in err and "(row rejected)" in err
    assert "01/05/2024" not in err
    assert sorted(Event.objects.values_list("event_id", flat=True)) == ["o1", "o4"]


def test_bad_value_is_stored_as_missing(db, tmp_path):
    """In a file, an unreadable value drops only the value, with a warning."""
    path = _write(tmp_path, HEADER + "o4,purchase,2024-05-01T10:00:00Z,ten,a@example.org,,\n")
    out, err = _import(path)
    assert "line 2: value: must be a number (stored as missing)" in err
    assert "1 of 1 rows accepted" in out
    assert Event.objects.get().value is None


def test_second_run_is_idempotent(db, tmp_path):
    """Importing the same events again stores nothing and counts them as already present."""
    rows = "".join(f"e{i},click,2024-05-01T10:{i:02d}:00Z,,p{i % 5}@example.org,web,\n"
                   for i in range(30))
    path = _write(tmp_path, HEADER + rows)
    first, _ = _import(path)
    counts = (Event.objects.count(), SourceRecord.objects.count(), Profile.objects.count())
    second, _ = _import(path)
    assert "(created 30, already present 0)" in first
    assert "30 of 30 rows accepted (created 0, already present 30)" in second
    assert counts == (30, 5, 5)
    assert (Event.objects.count(), SourceRecord.objects.count(),
            Profile.objects.count()) == counts


@pytest.mark.parametrize(
    ("header", "reason"),
    [("id,type,email\n", "missing column"), ("id,type,occurred_at,value\n", "identifier")],
)
def test_file_missing_required_columns_is_a_command_error(db, tmp_path, header, reason):
    """A file lacking id/type/occurred_at or any identifier column is refused outright."""
    path = _write(tmp_path, header + "x,y,z,w\n")
    with pytest.raises(CommandError, match=reason):
        _import(path)
    assert Event.objects.count() == 0


def test_file_with_no_importable_event_is_a_command_error(db, tmp_path):
    """When every row is rejected the command fails."""
    path = _write(tmp_path, HEADER + "o1,purchase,never,,a@example.org,,\n")
    with pytest.raises(CommandError, match="nothing imported"):
        _import(path)
    assert Event.objects.count() == 0
