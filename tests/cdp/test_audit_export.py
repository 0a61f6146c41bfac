"""DPO exports of the audit log: command, API (dpo scope) and admin; each one audited."""

import csv
import io
import json
import uuid
from datetime import UTC, datetime
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from cdp.audit import audit_record
from cdp.models import AuditEvent, Profile
from cdp.services.api_keys import api_key_create
from cdp.services.audit_export import COLUMNS, AuditFilter, audit_export

URL = "/api/v1/audit"


@pytest.fixture
def history(db) -> dict[str, object]:
    """Rows on three days of 2025 (Paris time), two subjects."""
    ana, bob = Profile.objects.create().pk, Profile.objects.create().pk
    rows = {}
    for day, subject, action in [(3, ana, "profile.view"), (4, bob, "profile.view"),
                                 (4, ana, "segment.explain"), (6, ana, "profile.view")]:
        moment = datetime(2025, 3, day, 12, tzinfo=UTC)
        with mock.patch("cdp.audit.timezone.now", return_value=moment):
            row = audit_record(actor="user:ana", action=action, profile_id=subject,
                               reason="=HYPERLINK(\"http://x\")", details={"n": day})
        rows[f"{day}-{action}"] = row
    return {"ana": ana, "bob": bob, "rows": rows}


def _export(*args: str) -> str:
    out = io.StringIO()
    call_command("export_audit", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def _last_export() -> AuditEvent:
    return AuditEvent.objects.filter(action="audit.export").latest("id")


def test_command_filters_by_date_range_as_csv(history, tmp_path):
    """Whole local days, both ends included; CSV parses back with the hashes."""
    out = tmp_path / "audit.csv"
    _export("--since", "2025-03-04", "--until", "2025-03-04", "--format", "csv", "--out",
            str(out))
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert tuple(rows[0]) == COLUMNS and len(rows) == 2
    assert {r["action"] for r in rows} == {"profile.view", "segment.explain"}
    view = history["rows"]["4-profile.view"]
    first = rows[0]
    assert (int(first["id"]), first["row_hash"], first["prev_hash"]) == (
        view.pk, view.row_hash, view.prev_hash)
    assert first["profile_id"] == str(history["bob"])
    # Spreadsheet formulas are neutralized; the JSON export keeps the exact value.
    assert first["reason"] == "'=HYPERLINK(\"http://x\")" and json.loads(first["details"]) == {
        "n": 4}
    assert datetime.fromisoformat(first["at"]) == view.at


def test_command_filters_by_subject_and_action_as_json(history):
    """--subject and --action narrow the rows; JSON is one array of objects."""
    body = json.loads(_export("--subject", str(history["ana"]), "--action", "profile.view",
                              "--format", "json"))
    assert [r["id"] for r in body] == [history["rows"]["3-profile.view"].pk,
                                       history["rows"]["6-profile.view"].pk]
    assert body[0]["details"] == {"n": 3} and body[0]["reason"] == '=HYPERLINK("http://x")'
    assert set(body[0]) == set(COLUMNS)


def test_command_export_is_audited(history, monkeypatch):
    """The export writes an audit.export row naming the command, format and filters."""
    monkeypatch.setenv("USER", "dpo-jane")
    _export("--since", "2025-03-01", "--subject", str(history["ana"]), "--format", "json")
    audit = _last_export()
    assert audit.actor == "command:dpo-jane" and audit.profile_id == history["ana"]
    assert audit.details["format"] == "json" and audit.details["via"] == "command"
    assert audit.details["since"].startswith("2025-03-01T00:00:00")


def test_empty_json_export_is_a_valid_array(db):
    """No matching row still gives a parseable document."""
    assert json.loads(_export("--action", "nothing.here", "--format", "json")) == []


@pytest.mark.parametrize("args", [["--since", "yesterday"], ["--subject", "nope"]])
def test_command_refuses_bad_filters(db, args):
    """A bad date or UUID is a one-line error, and nothing is exported."""
    with pytest.raises(CommandError):
        _export(*args)
    assert not AuditEvent.objects.filter(action="audit.export").exists()


def test_export_streams_in_chunks(db):
    """Rows come out as several text chunks, not one document built in memory."""
    AuditEvent.objects.bulk_create(AuditEvent(actor="bulk", action="bulk.row") for _ in range(2500))
    export = audit_export(filters=AuditFilter(action="bulk.row"), fmt="json", actor="t",
                          via="test", chunk_size=500)
    chunks = list(export)
    assert len(chunks) >= 3 and export.rows == 2500
    assert len(json.loads("".join(chunks))) == 2500


def _api(scopes: list[str]) -> APIClient:
    _, raw = api_key_create(name=f"key-{uuid.uuid4().hex[:6]}", scopes=scopes)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


def test_api_export_needs_the_dpo_scope(history):
    """A read key gets 403 and nothing is exported or audited as an export."""
    response = _api(["read"]).get(URL, {"format": "csv"})
    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action="audit.export").exists()


def test_api_export_streams_csv_and_is_audited(history):
    """A dpo key gets a streamed CSV of the filtered rows; the export is audited."""
    response = _api(["dpo"]).get(URL, {"since": "2025-03-04", "until": "2025-03-05",
                                       "subject": str(history["ana"]), "format": "csv"},
                                 REMOTE_ADDR="192.0.2.10")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["action"] for r in rows] == ["segment.explain"]
    audit = _last_export()
    assert audit.actor.startswith("api-key:key-") and audit.details["via"] == "api"
    assert audit.ip_prefix == "192.0.2.0/24" and audit.request_id == response["X-Request-ID"]


def test_api_export_json_and_bad_parameters(history):
    """format=json streams an array (admin keys may too); a bad date answers 400."""
    client = _api(["admin"])
    response = client.get(URL, {"action": "profile.view", "format": "json"})
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert len(json.loads(b"".join(response.streaming_content))) == 3
    bad = client.get(URL, {"since": "03/04/2025"})
    assert bad.status_code == 400 and "since" in bad.json()
    assert client.get(URL, {"format": "xml"}).status_code == 400


def _staff(client, *, dpo: bool):
    user = get_user_model().objects.create_user("staff", "s@example.org", "pw-123456",
                                                is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_auditevent"))
    if dpo:
        user.groups.add(Group.objects.get_or_create(name="dpo")[0])
    client.force_login(user)
    return client


def _admin_action(client, ids: list[int]):
    return client.post("/admin/cdp/auditevent/",
                       {"action": "export_csv", "_selected_action": [str(i) for i in ids]})


def test_admin_export_is_refused_to_staff_outside_the_dpo_group(client, history):
    """Staff who may view the log cannot export it: the action is not offered or run."""
    staff = _staff(client, dpo=False)
    page = staff.get("/admin/cdp/auditevent/")
    assert page.status_code == 200 and "export_csv" not in page.content.decode()
    response = _admin_action(staff, [r.pk for r in history["rows"].values()])
    assert not response.get("Content-Type", "").startswith("text/csv")
    assert not AuditEvent.objects.filter(action="audit.export").exists()


def test_admin_export_for_the_dpo_group(client, history):
    """A member of the dpo group exports the selected rows as CSV; audited."""
    rows = list(history["rows"].values())[:2]
    response = _admin_action(_staff(client, dpo=True), [r.pk for r in rows])
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    exported = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [int(r["id"]) for r in exported] == [r.pk for r in rows]
    audit = _last_export()
    assert audit.actor == "user:staff" and audit.details == {
        "format": "csv", "via": "admin", "selected": 2}
