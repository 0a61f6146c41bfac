"""Access / portability (Art. 15, 20): the subject's archive, registered and audited."""

import datetime as dt
import io
import json
import zipfile

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from cdp.models import AuditEvent, ConsentEntry, Event, Source, SubjectRequest
from cdp.services.api_keys import api_key_create
from cdp.services.record_parsing import ParsedRecord
from cdp.services.records import records_upsert
from segments.evaluation import segment_evaluate
from segments.services import segment_save

NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)


@pytest.fixture
def subject(db):
    source = Source.objects.create(name="crm")
    records_upsert(source=source, records=[ParsedRecord("c1", {
        "email": "anne.morvan@example.org", "last_name": "Morvan", "city": "Brest"})])
    record = source.records.get()
    Event.objects.create(source=source, event_id="e1", profile_id=record.profile_id,
                         type="purchase", occurred_at=NOW, value=30, received_at=NOW)
    ConsentEntry.objects.create(profile_id=record.profile_id, purpose="email_marketing",
                                status="granted", captured_at=NOW)
    segment = segment_save(actor="t", name="Brest", slug="brest",
                           definition={"attribute": "city", "op": "eq", "value": "Brest"})
    segment_evaluate(segment_id=segment.pk, now=NOW)
    return record.profile_id


def _archive(data: bytes) -> tuple[dict, set[str]]:
    zipped = zipfile.ZipFile(io.BytesIO(data))
    return json.loads(zipped.read("subject.json")), set(zipped.namelist())


def test_command_exports_everything_held_and_registers_the_request(subject, tmp_path):
    """Records in clear, events, consents, memberships and context; registered, audited."""
    out = tmp_path / "subject.zip"
    call_command("dsar_export", "--email", "Anne.Morvan@example.org", "--out", str(out),
                 "--reason", "ticket 42", stdout=io.StringIO())
    document, names = _archive(out.read_bytes())
    assert {"subject.json", "records.csv", "events.csv", "consents.csv",
            "segment_memberships.csv"} <= names
    assert document["records"][0]["email"] == "anne.morvan@example.org"
    assert document["events"][0]["type"] == "purchase"
    assert document["consents"][0]["status"] == "granted"
    assert document["segment_memberships"][0]["segment"] == "Brest"
    assert document["subject"]["data_sources"] == ["crm"]
    assert {p["slug"] for p in document["subject"]["purposes"]} >= {"email_marketing"}
    request = SubjectRequest.objects.get()
    assert request.kind == "access" and request.identified_by == "email"
    assert request.answered_at and request.profile_ids == [str(subject)]
    audit = AuditEvent.objects.get(action="dsar.access")
    assert audit.profile_id == subject and audit.reason == "ticket 42"
    assert "morvan" not in json.dumps(audit.details).lower()


def test_unknown_subject_is_a_one_line_error(db, tmp_path):
    """No profile for the email: non-zero exit, a reason that does not echo the value."""
    with pytest.raises(CommandError) as caught:
        call_command("dsar_export", "--email", "nobody@example.org",
                     "--out", str(tmp_path / "x.zip"))
    assert "nobody" not in str(caught.value)
    assert not SubjectRequest.objects.exists()


def test_api_requires_dpo_scope(subject):
    """Only a dpo key gets the archive; a read key is refused."""
    clients = {}
    for scope in ("dpo", "read"):
        _, raw = api_key_create(name=f"k-{scope}", scopes=[scope])
        clients[scope] = APIClient()
        clients[scope].credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    body = {"profile_id": str(subject)}
    assert clients["read"].post("/api/v1/subjects/access", body, format="json").status_code == 403
    answer = clients["dpo"].post("/api/v1/subjects/access", body, format="json")
    assert answer.status_code == 200 and answer["Content-Type"] == "application/zip"
    document, _ = _archive(answer.content)
    assert document["subject"]["profiles"] == [str(subject)]


def test_register_is_readable_in_the_admin(subject, tmp_path, admin_client):
    """The DPO sees each request in the admin register (no personal data in the list)."""
    call_command("dsar_export", "--profile", str(subject), "--out", str(tmp_path / "a.zip"),
                 stdout=io.StringIO())
    page = admin_client.get("/admin/cdp/subjectrequest/").content.decode()
    assert "access" in page.lower() and "anne" not in page.lower()
