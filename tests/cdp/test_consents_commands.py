"""import_consents (line-numbered problems, evidence columns, idempotency) and
export_consents (CSV/JSON that parse back, filters, streamed, audited)."""

import csv
import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import QuerySet

from cdp.models import AuditEvent, ConsentEntry, SourceRecord

HEADER = ("email,customer_id,purpose,status,captured_at,lawful_basis,notice_version,channel,"
          "form,ip\n")
ROWS = (
    "anne@example.org,,email_marketing,granted,2025-03-01T10:00:00+01:00,consent,2025.1,web,"
    "footer,198.51.100.4\n"
    ",CUST-7,sms_marketing,granted,2025-03-02 09:00:00,,2025.1,store,caisse-12,\n"
    "anne@example.org,,email_marketing,withdrawn,2025-04-01T10:00:00Z,,,email,unsubscribe,\n"
)


def _write(tmp_path: Path, text: str, name: str = "consents.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _import(path: Path, source: str = "crm") -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_consents", str(path), "--source", source, "--no-progress",
                 "--workers", "1", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _export(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("export_consents", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _last_audit_id() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def test_import_records_entries_with_evidence_and_is_idempotent(db, tmp_path):
    path = _write(tmp_path, HEADER + ROWS)
    out, _ = _import(path)
    assert "3 of 3 rows accepted (recorded 3, already recorded 0); 0 rejected" in out
    entries = {(e.purpose, e.status): e for e in ConsentEntry.objects.all()}
    granted = entries[("email_marketing", "granted")]
    assert granted.evidence.keys() == {"form", "ip_hash"}
    assert granted.evidence["form"] == "footer" and granted.recorded_by.startswith("command:")
    assert entries[("email_marketing", "withdrawn")].profile_id == granted.profile_id
    assert entries[("sms_marketing", "granted")].lawful_basis == "consent"
    assert SourceRecord.objects.filter(implicit=True).count() == 2

    out, _ = _import(path)
    assert "(recorded 0, already recorded 3)" in out
    assert ConsentEntry.objects.count() == 3


def test_bad_lines_are_reported_with_their_line_number(db, tmp_path):
    path = _write(tmp_path, HEADER + ROWS.splitlines(keepends=True)[0] + (
        "bob@example.org,,ads,granted,2025-03-01T10:00:00Z,consent,2025.1,web,,\n"
        "\n"
        "carl@example.org,,profiling,granted,2025-03-01T10:00:00Z,consent,,web,,\n"
        "dan@example.org,,profiling,granted,2025-03-01T10:00:00Z,consent,2025.1,web,,1.2.3\n"
    ))
    out, err = _import(path)
    assert "2 of 4 rows accepted" in out and "2 rejected, 1 warnings" in out
    lines = err.splitlines()
    assert "line 3: purpose: unknown purpose (row rejected)" in lines
    assert "line 5: notice_version: required to prove a consent (row rejected)" in lines
    assert "line 6: ip: not an IP address (stored as missing)" in lines
    assert "bob@" not in err and "1.2.3" not in err
    assert ConsentEntry.objects.filter(evidence={}).count() == 1  # dan, without the bad IP


@pytest.mark.parametrize(("header", "message"), [
    ("email,purpose,status\n", "missing column(s): captured_at"),
    ("name,purpose,status,captured_at\n", "needs one identifier column"),
    ("email,first_name,purpose,status,captured_at\n",
     "personal data is never kept as evidence; drop column(s): first_name"),
])
def test_unusable_files_stop_with_one_message(db, tmp_path, header, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _import(_write(tmp_path, header + "x,y,z,w,v\n"))
    assert not ConsentEntry.objects.exists()


@pytest.fixture
def ledger(db, tmp_path) -> QuerySet:
    _import(_write(tmp_path, HEADER + ROWS))
    return ConsentEntry.objects.order_by("id")


def test_export_csv_and_json_parse_back_with_filters(ledger, tmp_path):
    out_file = tmp_path / "proofs.csv"
    _, err = _export("--format", "csv", "--out", str(out_file))
    assert err.strip() == "3 consent entries exported"
    with out_file.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["id"]) for r in rows] == [e.pk for e in ledger]
    first = rows[0]
    assert (first["purpose"], first["status"], first["source"]) == (
        "email_marketing", "granted", "crm")
    assert first["notice_version"] == "2025.1" and first["expires_at"] == ""
    assert json.loads(first["evidence"])["form"] == "footer"
    assert first["captured_at"] == "2025-03-01T09:00:00+00:00"

    subject = str(ledger[0].profile_id)
    out, _ = _export("--format", "json", "--subject", subject, "--since", "2025-03-01",
                     "--until", "2025-03-31")
    entries = json.loads(out)
    assert [(e["purpose"], e["status"]) for e in entries] == [("email_marketing", "granted")]
    assert entries[0]["evidence"]["form"] == "footer" and entries[0]["profile_id"] == subject

    out, _ = _export("--format", "json", "--purpose", "sms_marketing")
    assert [e["purpose"] for e in json.loads(out)] == ["sms_marketing"]
    out, _ = _export("--format", "json", "--since", "2026-01-01")
    assert json.loads(out) == []


def test_export_is_audited_and_streamed_from_a_cursor(ledger, monkeypatch):
    """One audit row per export, with its filters; rows come through QuerySet.iterator."""
    calls = []
    original = QuerySet.iterator

    def spy(self, *args, **kwargs):
        calls.append(kwargs.get("chunk_size"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(QuerySet, "iterator", spy)
    start = _last_audit_id()
    _export("--format", "csv", "--purpose", "email_marketing")
    assert calls == [2000]
    audit = AuditEvent.objects.get(id__gt=start)
    assert audit.action == "consent.export" and audit.actor.startswith("command:")
    assert audit.details == {"format": "csv", "via": "command", "since": "", "until": "",
                             "subject": "", "purpose": "email_marketing"}


def test_export_refuses_bad_filters_with_one_line(db):
    for args, message in [(["--since", "soon"], "expected YYYY-MM-DD"),
                          (["--subject", "anne"], "not a profile id"),
                          (["--since", "2025-05-02", "--until", "2025-05-01"],
                           "until must be after since")]:
        with pytest.raises(CommandError, match=message):
            _export(*args)
