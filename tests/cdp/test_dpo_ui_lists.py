"""The DPO's audit log and consent ledger lists: filters (date range of whole local days,
action, actor, purpose, status), export of the filtered list (all pages, streamed,
audited with its filters), the hash chain box and "Verify now", the retention page."""

import csv
import io
import json
from datetime import UTC, date, datetime
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.urls import reverse
from django.utils import timezone, translation

from cdp.audit import audit_record
from cdp.models import AuditEvent, ConsentEntry, Event, Profile
from cdp.services.retention import retention_rules, retention_schedule
from cdp.ui.dpo_filters import parse_day
from tests.conftest import staff_login

AUDIT = "/admin/cdp/auditevent/"
LEDGER = "/admin/cdp/consententry/"



def _on(day: int, **fields) -> AuditEvent:
    at = datetime(2026, 3, day, 12, tzinfo=UTC)
    with mock.patch("cdp.audit.timezone.now", return_value=at):
        return audit_record(**fields)


@pytest.fixture
def history(db) -> list[AuditEvent]:
    return [
        _on(1, actor="user:ana", action="profile.view"),
        _on(2, actor="user:ana", action="record.view"),
        _on(3, actor="user:bob", action="profile.view"),
        _on(4, actor="user:ana", action="profile.view"),
        _on(5, actor="user:ana", action="profile.view"),
    ]


def _rows(response) -> list[dict[str, str]]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_parse_day_reads_the_users_language_and_iso():
    with translation.override("fr"):
        assert parse_day("02/03/2026") == date(2026, 3, 2)
    with translation.override("en"):
        assert parse_day("02/03/2026") == date(2026, 2, 3)
    assert parse_day("2026-03-02") == date(2026, 3, 2)
    assert parse_day("soon") is None


def test_filters_narrow_the_audit_log(dpo, history):
    """French dates, both days included; action and actor filters combine."""
    page = dpo.get(AUDIT, {"at_from": "02/03/2026", "at_to": "04/03/2026",
                           "action": "profile.view", "actor__icontains": "ana"})
    assert page.status_code == 200
    assert [row.pk for row in page.context["cl"].result_list] == [history[3].pk]


def test_export_of_the_filtered_audit_log_streams_every_page_audited(dpo, history):
    response = dpo.get(reverse("admin:cdp_auditevent_export", args=["csv"]),
                       {"at_from": "02/03/2026", "at_to": "05/03/2026",
                        "action": "profile.view", "p": "3"})
    assert response.status_code == 200 and response.streaming
    assert response["Content-Disposition"] == 'attachment; filename="audit.csv"'
    rows = _rows(response)
    assert [int(r["id"]) for r in rows] == [history[2].pk, history[3].pk, history[4].pk]
    assert {r["action"] for r in rows} == {"profile.view"} and rows[0]["row_hash"]
    audit = AuditEvent.objects.get(action="audit.export")
    assert audit.actor == "user:dominique" and audit.details == {
        "format": "csv", "via": "admin", "rows": 3,
        "filters": {"at_from": "02/03/2026", "at_to": "05/03/2026", "action": "profile.view"}}


def test_the_search_text_of_an_export_is_not_logged(dpo, history):
    """Someone may type an address into the search box: the audit row says a search was
    used, never what was typed."""
    dpo.get(reverse("admin:cdp_auditevent_export", args=["json"]),
            {"q": "jeanne.martin@example.org"})
    audit = AuditEvent.objects.get(action="audit.export")
    assert "jeanne" not in str(audit.details)
    assert audit.details["filters"] == {"q": "(search text, not recorded)"}


def test_a_bad_date_exports_nothing(dpo, history):
    response = dpo.get(reverse("admin:cdp_auditevent_export", args=["csv"]),
                       {"at_from": "31/31/2026"})
    assert response.status_code == 302
    assert not AuditEvent.objects.filter(action="audit.export").exists()


def test_the_list_offers_the_export_of_its_filters(dpo, history):
    html = dpo.get(AUDIT, {"action": "record.view"}).content.decode()
    assert 'href="/admin/cdp/auditevent/export/csv/?action=record.view"' in html
    assert 'id="chain-status"' in html and 'data-chain="unknown"' in html


def test_export_is_refused_to_staff_without_the_dpo_role_audited(client, history):
    """Staff allowed to read the log (a view permission) may not export it."""
    from django.contrib.auth.models import Permission

    staff_login(client, "viewer")
    staff = client
    get_user_model().objects.get(username="viewer").user_permissions.add(
        Permission.objects.get(codename="view_auditevent"))
    page = staff.get(AUDIT)
    assert page.status_code == 200 and 'id="export-filtered"' not in page.content.decode()
    response = staff.get(reverse("admin:cdp_auditevent_export", args=["json"]))
    assert response.status_code == 403
    denied = AuditEvent.objects.get(action="access.denied")
    assert (denied.actor, denied.object_id) == ("user:viewer", "cdp.auditevent:export")
    assert not AuditEvent.objects.filter(action="audit.export").exists()


def test_consent_ledger_filters_and_json_export(dpo, source):
    people = [Profile.objects.create() for _ in range(3)]
    now = timezone.now()
    for profile, purpose, status in [(people[0], "email_marketing", "granted"),
                                     (people[1], "email_marketing", "withdrawn"),
                                     (people[2], "profiling", "granted")]:
        ConsentEntry.objects.create(profile=profile, purpose=purpose, status=status,
                                    source=source, captured_at=now)
    query = {"purpose": "email_marketing", "status__exact": "granted",
             "source__id__exact": str(source.pk)}
    page = dpo.get(LEDGER, query)
    assert [e.profile_id for e in page.context["cl"].result_list] == [people[0].pk]
    response = dpo.get(reverse("admin:cdp_consententry_export", args=["json"]), query)
    exported = json.loads(b"".join(response.streaming_content))
    assert [row["profile_id"] for row in exported] == [str(people[0].pk)]
    audit = AuditEvent.objects.get(action="consent.export")
    assert audit.details["rows"] == 1 and audit.details["filters"]["purpose"] == "email_marketing"


def test_verify_now_records_and_shows_an_intact_chain(dpo, history):
    response = dpo.post(reverse("cdp_ui:audit_verify"))
    assert response.status_code == 302 and response["Location"] == AUDIT
    check = AuditEvent.objects.get(action="audit.verify")
    before = AuditEvent.objects.filter(id__lt=check.pk).count()
    assert check.details["intact"] is True and check.details["checked"] == before >= 5
    html = dpo.get(AUDIT).content.decode()
    assert 'data-chain="intact"' in html


def test_verify_now_names_the_first_broken_row(dpo, history):
    with connection.cursor() as cursor:  # the test's transaction is rolled back
        cursor.execute("ALTER TABLE cdp_auditevent DISABLE TRIGGER cdp_audit_append_only")
        cursor.execute("UPDATE cdp_auditevent SET actor = 'user:mallory' WHERE id = %s",
                       [history[2].pk])
        cursor.execute("ALTER TABLE cdp_auditevent ENABLE TRIGGER cdp_audit_append_only")
    dpo.post(reverse("cdp_ui:audit_verify"))
    page = dpo.get(AUDIT)
    assert 'data-chain="broken"' in page.content.decode()
    assert page.context["chain_check"].details["first_broken_id"] == history[2].pk
    assert f"n° {history[2].pk}" in page.content.decode()  # French by default


def test_retention_page_shows_the_periods_and_where_they_are_set(dpo, settings):
    settings.CDP_RETENTION_EVENTS_DAYS = 400
    html = dpo.get(reverse("cdp_ui:retention")).content.decode()
    assert 'data-rule="events" data-days="400"' in html and "CDP_RETENTION_EVENTS_DAYS" in html
    assert [r.name for r in retention_rules()] == ["events", "inactive_profiles", "audit_log"]
    assert retention_schedule("cdp.tasks.retention_enforce_task") == "04:00"


def test_retention_run_previews_then_runs_on_confirmation(dpo, settings, source,
                                                         celery_eager):
    """The preview changes nothing; the confirmation queues the run (eager here, as in
    the demo), done in the DPO's name."""
    settings.CDP_RETENTION_EVENTS_DAYS = 30
    profile = Profile.objects.create()
    old = timezone.now() - timezone.timedelta(days=60)
    Event.objects.create(source=source, event_id="e-1", profile=profile, type="page_view",
                         occurred_at=old, received_at=old)
    preview = dpo.get(reverse("cdp_ui:retention_run"))
    assert preview.context["preview"].events_deleted == 1 and Event.objects.count() == 1
    response = dpo.post(reverse("cdp_ui:retention_run"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("cdp_ui:retention")
    assert Event.objects.count() == 0
    assert any("1 événements supprimés" in str(m) for m in response.context["messages"])
    runs = list(AuditEvent.objects.filter(action__startswith="retention.").order_by("id"))
    assert [(r.action, r.actor) for r in runs] == [("retention.dry_run", "user:dominique"),
                                                   ("retention.purge", "user:dominique")]
    html = dpo.get(reverse("cdp_ui:retention")).content.decode()
    assert html.count('data-action="retention.') == 2
