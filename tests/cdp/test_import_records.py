"""manage.py import_records: column mapping, per-line problems, idempotency, workers, exit code."""

import csv
import io
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from cdp.models import AuditEvent, Profile, Source, SourceRecord
from cdp.services.profiles import record_plain

REPO_ROOT = Path(__file__).resolve().parents[2]


def _write(tmp_path: Path, text: str, name: str = "records.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _import(path: Path, *args: str, source: str = "crm") -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_records", str(path), "--source", source, "--no-progress", *args,
                 stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _plain(external_id: str, source: str = "crm") -> dict:
    record = SourceRecord.objects.get(source__name=source, external_id=external_id)
    return {**record_plain(record), "attributes": record.attributes}


def test_standard_columns_map_themselves_and_others_become_attributes(db, tmp_path):
    """Columns named like standard fields (any case) are fields; the rest are attributes."""
    path = _write(tmp_path, (
        "external_id,First_Name,LAST_NAME,Email,phone,city,loyalty_tier,Notes\n"
        "c1,Élodie,Martin,Elodie@Example.FR,06 12 34 56 78,Lyon,gold,likes tea\n"
        "c2,Jean,Dupont,jean@example.org,,Paris,,\n"
    ))
    out, _ = _import(path)
    assert "2 of 2 rows imported (created 2, updated 0, unchanged 0)" in out
    c1, c2 = _plain("c1"), _plain("c2")
    assert (c1["first_name"], c1["last_name"], c1["email"], c1["phone"], c1["city"]) == (
        "Élodie", "Martin", "elodie@example.fr", "+33612345678", "Lyon")
    assert c1["attributes"] == {"loyalty_tier": "gold", "Notes": "likes tea"}
    # Empty cells are absent values, not empty attributes.
    assert c2["attributes"] == {} and c2["phone"] is None
    assert Source.objects.filter(name="crm").exists()


def test_id_column_and_map_options(db, tmp_path):
    """--id-column names the id; --map col=field maps a column; --map col=- skips it."""
    path = _write(tmp_path, (
        "Client No,Courriel,Prénom,Internal,Segment\n"
        "K-1,Anne@Example.org,Anne,do-not-import,vip\n"
    ))
    _import(path, "--id-column", "Client No", "--map", "Courriel=email",
            "--map", "Prénom=first_name", "--map", "Internal=-")
    record = _plain("K-1")
    assert record["email"] == "anne@example.org" and record["first_name"] == "Anne"
    assert record["attributes"] == {"Segment": "vip"}
    assert "do-not-import" not in str(SourceRecord.objects.values_list().get())


@pytest.mark.parametrize(
    ("args", "reason"),
    [(["--map", "Nope=email"], "lacks"), (["--map", "Courriel=shoe_size"], "not a standard"),
     (["--map", "Courriel"], "CSVCOL=FIELD"), (["--id-column", "Nope"], "no id column")],
)
def test_bad_options_are_command_errors(db, tmp_path, args, reason):
    """A --map or --id-column the file cannot satisfy stops the import before any row."""
    path = _write(tmp_path, "id,Courriel\n1,a@example.org\n")
    with pytest.raises(CommandError, match=reason):
        _import(path, *args)
    assert SourceRecord.objects.count() == 0


def test_bad_values_are_stored_as_missing_and_rows_without_id_rejected(db, tmp_path):
    """Bad values become missing with a line-numbered warning; id-less rows are rejected."""
    path = _write(tmp_path, (
        "id,last_name,email,phone,birth_date\n"
        "a1,Martin,a1@example.org,06 12 34 56 78,12/04/1990\n"
        "a2,Bernard,a2@example.org,06 12 34 56 78,31/02/1977\n"
        "a3,Thomas,a3@example.org,+33 6 1234,1980-01-01\n"
        ",Petit,nobody@example.org,,\n"
        "a5,Robert,a5@example.org,,\n"
    ))
    out, err = _import(path)
    assert "4 of 5 rows imported" in out and "1 rejected, 2 warnings" in out
    assert "line 3: birth_date: impossible date (stored as missing)" in err
    assert "line 4: phone:" in err and "(stored as missing)" in err
    assert "line 5: external_id: required (row rejected)" in err
    assert not any(line.startswith(("line 2:", "line 6:")) for line in err.splitlines())
    for secret in ("31/02/1977", "1234", "Petit", "nobody"):
        assert secret not in err and secret not in out
    assert sorted(SourceRecord.objects.values_list("external_id", flat=True)) == [
        "a1", "a2", "a3", "a5"]
    a2, a3 = _plain("a2"), _plain("a3")
    assert a2["birth_date"] is None and a2["last_name"] == "Bernard"
    assert a3["phone"] is None and a3["birth_date"] == "1980-01-01"


def test_file_with_no_importable_row_is_a_command_error(db, tmp_path):
    """When every row is rejected the command fails (non-zero exit) and stores nothing."""
    path = _write(tmp_path, "id,email\n,a@example.org\n,b@example.org\n")
    with pytest.raises(CommandError, match="nothing imported: 2 of 2 rows rejected"):
        _import(path)
    assert SourceRecord.objects.count() == 0


def test_header_only_file_is_a_command_error(db, tmp_path):
    """A file with a header and no rows imports nothing and fails."""
    path = _write(tmp_path, "id,email\n")
    with pytest.raises(CommandError):
        _import(path)


def test_second_run_is_idempotent(db, tmp_path):
    """Importing the same file again creates and updates nothing."""
    rows = "".join(f"r{i},Nom{i},r{i}@example.org,Ville{i},t{i % 3}\n" for i in range(40))
    path = _write(tmp_path, "id,last_name,email,city,tier\n" + rows)
    first, _ = _import(path)
    counts = (SourceRecord.objects.count(), Profile.objects.count())
    stamps = dict(SourceRecord.objects.values_list("external_id", "updated_at"))
    second, _ = _import(path)
    assert "created 40, updated 0, unchanged 0" in first
    assert "40 of 40 rows imported (created 0, updated 0, unchanged 40)" in second
    assert (SourceRecord.objects.count(), Profile.objects.count()) == counts == (40, 40)
    assert dict(SourceRecord.objects.values_list("external_id", "updated_at")) == stamps


def test_changed_row_is_updated_on_reimport(db, tmp_path):
    """A second file changing one row updates just that row."""
    _import(_write(tmp_path, "id,city\nu1,Paris\nu2,Lyon\n"))
    out, _ = _import(_write(tmp_path, "id,city\nu1,Paris\nu2,Lille\n", name="again.csv"))
    assert "(created 0, updated 1, unchanged 1)" in out
    assert SourceRecord.objects.get(external_id="u2").city == "Lille"


def test_semicolon_delimited_file(db, tmp_path):
    """A semicolon-separated file (as French spreadsheets export) is read correctly."""
    path = _write(tmp_path, (
        "\ufeffid;email;city;remark\n"
        "s1;s1@example.org;Saint-Étienne;a, b and c\n"
    ))
    out, _ = _import(path)
    assert "1 of 1 rows imported" in out
    record = _plain("s1")
    assert record["email"] == "s1@example.org" and record["city"] == "Saint-Étienne"
    assert record["attributes"] == {"remark": "a, b and c"}


def test_multiline_quoted_field_keeps_later_line_numbers(db, tmp_path):
    """A quoted value spanning lines is kept whole and later problems cite the file's lines."""
    path = _write(tmp_path, (
        "id,birth_date,note\n"
        'm1,1990-01-01,"first line\nsecond line\nthird line"\n'
        "m2,31/02/1990,\n"
        ",1990-01-01,\n"
    ))
    _, err = _import(path)
    assert "line 5: birth_date: impossible date" in err
    assert "line 6: external_id: required" in err
    assert _plain("m1")["attributes"]["note"] == "first line\nsecond line\nthird line"


def test_report_file_lists_every_problem(db, tmp_path):
    """--report writes every problem to CSV, though the console shows only the first 50."""
    rows = "".join(f"b{i},31/02/1990,Nom\n" for i in range(60)) + ",1990-01-01,Nom\n"
    path = _write(tmp_path, "id,birth_date,last_name\n" + rows)
    report = tmp_path / "problems.csv"
    out, err = _import(path, "--report", str(report))
    assert "60 of 61 rows imported" in out
    assert f"11 more problems; all in {report}" in err
    with report.open(newline="") as handle:
        lines = list(csv.DictReader(handle))
    assert len(lines) == 61
    assert [int(r["line"]) for r in lines] == list(range(2, 63))
    assert {r["outcome"] for r in lines[:60]} == {"stored_as_missing"}
    assert lines[60] == {"line": "62", "field": "external_id", "message": "required",
                         "outcome": "rejected"}
    assert "31/02" not in report.read_text()


def _stored(source: str) -> dict:
    records = SourceRecord.objects.filter(source__name=source)
    return {r.external_id: (record_plain(r), r.attributes, r.email_bidx) for r in records}


def test_two_workers_give_the_same_result_as_one(db, tmp_path):
    """Parsing in two processes changes neither the stored data nor the reported problems."""
    rows = []
    for i in range(4500):  # more than two 2,000-row chunks, so the order of chunks matters
        birth = "31/02/1990" if i % 97 == 0 else f"{1 + i % 28:02d}/0{1 + i % 9}/19{50 + i % 40}"
        ext = "" if i % 1000 == 999 else f"w{i}"
        rows.append(f"{ext},Nom{i},w{i}@example.org,06{i:08d},{birth},t{i % 5}\n")
    path = _write(tmp_path, "id,last_name,email,phone,birth_date,tier\n" + "".join(rows))
    one, two = tmp_path / "one.csv", tmp_path / "two.csv"
    out_one, err_one = _import(path, "--workers", "1", "--report", str(one), source="one")
    out_two, err_two = _import(path, "--workers", "2", "--report", str(two), source="two")
    assert out_one == out_two
    assert "4496 of 4500 rows imported (created 4496, updated 0, unchanged 0)" in out_one
    assert "4 rejected, 47 warnings" in out_one
    assert err_one.replace("source one", "source two").replace("one.csv", "two.csv") == err_two
    assert one.read_text() == two.read_text()
    assert "1001,external_id,required,rejected" in one.read_text()
    assert "4464,birth_date,impossible date,stored_as_missing" in one.read_text()
    assert _stored("one") == _stored("two")
    assert len(_stored("one")) == 4496


def _test_database_url() -> str:
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    return f"postgres://{credentials}@{host}/{quote(db['NAME'], safe='')}"


def test_real_command_exits_non_zero_with_a_one_line_reason(transactional_db, tmp_path):
    """`manage.py import_records` on a file with no valid row exits non-zero, no traceback."""
    path = _write(tmp_path, "id,email\n,a@example.org\n,b@example.org\n")
    env = dict(os.environ, DATABASE_URL=_test_database_url())
    env.pop("DJANGO_SETTINGS_MODULE", None)  # the command line's own default: cdp.settings
    done = subprocess.run(
        [sys.executable, "manage.py", "import_records", str(path), "--source", "crm",
         "--no-progress"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last == "CommandError: nothing imported: 2 of 2 rows rejected"
    assert "a@example.org" not in done.stderr
    # The subprocess really used the test database: its audit row is visible here.
    assert AuditEvent.objects.filter(action="import.records").exists()


def test_bad_value_in_a_later_file_keeps_the_stored_one(db, tmp_path):
    """An unparseable phone in a re-import is reported but does not erase the good phone."""
    _import(_write(tmp_path, "id,phone,city\nk1,06 12 34 56 78,Paris\n"))
    _, err = _import(_write(tmp_path, "id,phone,city\nk1,0999-ABC,Lyon\n", name="later.csv"))
    assert "line 2: phone" in err
    assert _plain("k1")["phone"] == "+33612345678" and _plain("k1")["city"] == "Lyon"
