"""Admin: lists show no personal data; a record's page shows it and audits the view."""

import pytest
from django.contrib.auth import get_user_model

from cdp.models import ApiKey, AuditEvent, SourceRecord
from cdp.services.record_parsing import ParsedRecord
from cdp.services.records import records_upsert


@pytest.fixture
def staff_client(client, db):
    user = get_user_model().objects.create_superuser("dpo", "dpo@example.org", "pw-123456")
    client.force_login(user)
    return client


@pytest.fixture
def record(source) -> SourceRecord:
    records_upsert(source=source, records=[ParsedRecord(
        "A-1", {"last_name": "Quéméner", "email": "anne.quemener@example.org", "city": "Brest"}
    )])
    return SourceRecord.objects.get(external_id="A-1")


def test_record_list_hides_personal_data(staff_client, record):
    """The list page shows the pseudonymous columns only."""
    page = staff_client.get("/admin/cdp/sourcerecord/").content.decode()
    assert "A-1" in page and "Brest" in page
    assert "Quéméner" not in page and "anne.quemener" not in page


def test_record_page_shows_and_audits(staff_client, record):
    """Opening a record decrypts it for the person and writes an audit row."""
    page = staff_client.get(f"/admin/cdp/sourcerecord/{record.pk}/change/").content.decode()
    assert "anne.quemener@example.org" in page
    audit = AuditEvent.objects.get(action="record.view")
    assert audit.actor == "user:dpo" and audit.profile_id == record.profile_id


def test_profile_page_shows_the_golden_record_and_audits_the_read(staff_client, record):
    """A profile page shows its golden record (in clear for an admin) and its records;
    the read is audited once."""
    page = staff_client.get(f"/admin/cdp/profile/{record.profile_id}/change/").content.decode()
    assert "A-1" in page and "anne.quemener@example.org" in page  # admin: in clear
    assert AuditEvent.objects.filter(action="profile.view",
                                     profile_id=record.profile_id).count() == 1


def test_api_key_created_in_admin_is_shown_once(staff_client):
    """Creating a key in the admin shows the clear key once and stores only its hash."""
    response = staff_client.post(
        "/admin/cdp/apikey/add/", {"name": "crm-sync", "scopes": ["ingest"], "rate": ""},
        follow=True,
    )
    shown = [str(m) for m in response.context["messages"]]
    key = ApiKey.objects.get(name="crm-sync")
    raw = next(m.split(": ", 1)[1] for m in shown if "affichée une seule fois" in m)
    assert raw.startswith(f"cdp_{key.prefix}_") and raw not in key.key_hash
    assert key.scopes == ["ingest"]
