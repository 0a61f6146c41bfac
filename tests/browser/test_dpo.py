"""The DPO at work: filter the audit log and export it, find a person by email and erase
them through the confirmation step, see the retention rules; a marketer is refused."""

import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

import pytest
from django.utils import timezone

from cdp.audit import audit_record
from cdp.models import AuditEvent, ConsentEntry, Profile, Source, SourceRecord, SubjectRequest
from cdp.roles import Role
from cdp.selectors import profiles_by_identifier
from cdp.services.record_parsing import ParsedRecord
from cdp.services.records import records_upsert

EMAIL = "jeanne.martin@gmail.com"


def _on(day: int, actor: str, action: str) -> AuditEvent:
    at = datetime(2026, 3, day, 11, tzinfo=UTC)
    with mock.patch("cdp.audit.timezone.now", return_value=at):
        return audit_record(actor=actor, action=action, object_type="profile")


@pytest.fixture
def history(transactional_db) -> list[AuditEvent]:
    return [_on(1, "user:ana", "profile.view"), _on(2, "user:ana", "record.view"),
            _on(3, "user:bob", "profile.view"), _on(4, "user:ana", "profile.view"),
            _on(6, "user:ana", "profile.view")]


@pytest.fixture
def jeanne(transactional_db) -> Profile:
    source = Source.objects.create(name="crm", kind=Source.Kind.CRM)
    records_upsert(source=source, records=[ParsedRecord("J-1", {
        "first_name": "Jeanne", "last_name": "Martin", "email": EMAIL,
        "phone": "+33612345678", "city": "Nantes"})])
    profile = SourceRecord.objects.get(external_id="J-1").profile
    ConsentEntry.objects.create(profile=profile, purpose="email_marketing", status="granted",
                                source=source, captured_at=timezone.now())
    ConsentEntry.objects.create(profile=profile, purpose="profiling", status="withdrawn",
                                source=source, captured_at=timezone.now())
    return profile


def test_dpo_filters_and_exports_the_audit_log(login, screenshot, history, tmp_path):
    page = login("dominique", Role.DPO)
    page.goto(page.base_url + "/admin/cdp/auditevent/")
    page.locator("a", has_text="Filtres").first.click()
    form = page.locator("#filter-form")
    form.locator("select[name=action]").select_option("profile.view")
    form.locator("input[name=at_from]").fill("02/03/2026")
    form.locator("input[name=at_to]").fill("06/03/2026")
    form.locator("button[type=submit]").click()
    page.wait_for_url("**action=profile.view**")
    assert "3" in page.locator("#export-filtered").inner_text()

    with page.expect_download() as download_info:
        page.locator("#export-filtered a", has_text="CSV").click()
    download = download_info.value
    assert download.suggested_filename == "audit.csv"
    path = tmp_path / "audit.csv"
    download.save_as(path)
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["id"]) for r in rows] == [history[2].pk, history[3].pk, history[4].pk]
    assert [r["actor"] for r in rows] == ["user:bob", "user:ana", "user:ana"]
    export = AuditEvent.objects.get(action="audit.export")
    assert export.actor == "user:dominique" and export.details["rows"] == 3

    page.locator("#chain-status button[type=submit]").click()
    page.wait_for_selector('#chain-status[data-chain="intact"]')
    assert "action=profile.view" in page.url  # back to the list as it was filtered
    screenshot(page, "audit-log")


def test_dpo_filters_the_consent_ledger(login, screenshot, jeanne):
    page = login("dominique", Role.DPO)
    page.locator('#nav-sidebar a[href="/admin/cdp/consententry/"]').click()
    page.locator("a", has_text="Filtres").first.click()
    page.locator("#filter-form select[name=status__exact]").select_option("withdrawn")
    page.locator("#filter-form button[type=submit]").click()
    page.wait_for_url("**status__exact=withdrawn**")
    assert page.locator("#result_list tbody tr").count() == 1
    assert "1" in page.locator("#export-filtered").inner_text()
    screenshot(page, "consent-ledger")
    with page.expect_download() as download_info:
        page.locator("#export-filtered a", has_text="JSON").click()
    exported = json.loads(Path(download_info.value.path()).read_text(encoding="utf-8"))
    assert [(e["purpose"], e["status"]) for e in exported] == [("profiling", "withdrawn")]


def test_dpo_finds_a_person_by_email_and_erases_them(login, screenshot, jeanne):
    page = login("dominique", Role.DPO)
    page.locator('#nav-sidebar a[href="/admin/ui/privacy/subjects/"]').click()
    page.fill("input[name=value]", "Jeanne.Martin@gmail.com")
    page.locator("#subject-search-form button[type=submit]").click()
    card = page.locator(f'section[data-profile="{jeanne.pk}"]')
    assert "Nantes" in card.inner_text() and EMAIL in card.inner_text()
    assert card.locator('tr[data-purpose="email_marketing"]').get_attribute(
        "data-state") == "granted"
    assert card.locator('tr[data-purpose="profiling"]').get_attribute(
        "data-state") == "withdrawn"
    screenshot(page, "subject-search")

    card.locator('a[href*="/erase/"]').click()
    page.wait_for_selector("#dpo-confirm")
    assert str(jeanne.pk) in page.locator("#confirm-profile").inner_text()
    screenshot(page, "erasure-confirm")
    page.locator("#dpo-confirm button[type=submit]").click()  # no reason: asked again
    page.wait_for_selector("#dpo-confirm")
    assert Profile.objects.filter(pk=jeanne.pk).exists()
    page.fill("input[name=reason]", "Demande n° 42 (art. 17)")
    page.locator("#dpo-confirm button[type=submit]").click()
    page.wait_for_selector("#subject-search")
    assert "effacée" in page.content()

    assert not Profile.objects.filter(pk=jeanne.pk).exists()
    assert not SourceRecord.objects.filter(external_id="J-1").exists()
    assert not ConsentEntry.objects.filter(profile_id=jeanne.pk).exists()
    assert not profiles_by_identifier("email", EMAIL).exists()
    request = SubjectRequest.objects.get(kind="erasure")
    assert request.identified_by == "email" and request.reason == "Demande n° 42 (art. 17)"

    page.fill("input[name=value]", EMAIL)
    page.locator("#subject-search-form button[type=submit]").click()
    page.wait_for_selector("#no-match")  # waits for the answer page, fails after 15 s


def test_dpo_sees_the_retention_rules_and_runs_them(login, screenshot, transactional_db,
                                                    celery_eager):
    page = login("dominique", Role.DPO)
    page.locator('#nav-sidebar a[href="/admin/ui/privacy/retention/"]').click()
    page.wait_for_selector('#retention-rules tr[data-rule="events"]')
    assert "CDP_RETENTION_EVENTS_DAYS" in page.locator("#retention-rules").inner_text()
    page.locator('a[href="/admin/ui/privacy/retention/run/"]').click()
    page.wait_for_selector("#retention-preview")
    page.locator("#retention-confirm button[type=submit]").click()
    page.wait_for_selector('#retention-runs tr[data-action="retention.purge"]')
    screenshot(page, "retention")
    assert AuditEvent.objects.filter(action="retention.purge", actor="user:dominique").exists()


def test_a_marketer_is_refused_the_dpo_pages(login, transactional_db):
    page = login("marie", Role.MARKETER)
    for path in ("/admin/ui/privacy/subjects/", "/admin/ui/privacy/retention/",
                 "/admin/cdp/auditevent/"):
        response = page.goto(page.base_url + path)
        assert response.status == 403, path
    denied = AuditEvent.objects.filter(action="access.denied", actor="user:marie")
    assert set(denied.values_list("object_id", flat=True)) >= {
        "cdp_ui:subject_search", "cdp_ui:retention", "cdp.auditevent:changelist"}
