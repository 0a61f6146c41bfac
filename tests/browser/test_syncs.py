"""The sync page: a marketer runs a sync against the fake Mailchimp, reads the run's
counts and the members Mailchimp refused, with the vendor's reason and no email."""


import pytest

from cdp.models import Source
from cdp.roles import Role
from connectors.models import AudienceSync, SyncMember
from connectors.services import destination_save, sync_save
from segments.services import segment_save
from tests.connectors.conftest import LIST_ID, TAG, Audience


@pytest.fixture
def brest_sync(transactional_db, mailchimp) -> AudienceSync:
    """Brest: four people with email consent; one address is on a domain Mailchimp
    refuses as fake (example.com)."""
    source = Source.objects.create(name="crm", kind=Source.Kind.CRM, priority=100)
    segment = segment_save(actor="t", name="Brest", slug="brest", schedule="",
                           definition={"attribute": "city", "op": "eq", "value": "Brest"})
    audience = Audience(source, segment)
    audience.add(3)
    audience.add(1, start=3, domain="example.com")
    audience.evaluate()
    destination = destination_save(
        actor="t", name="mailchimp-fr", kind="mailchimp", purpose="email_marketing",
        credentials={"api_key": mailchimp.api_key}, base_url=mailchimp.base_url_template,
        field_mapping={"FNAME": "first_name"}, timeout_s=2)
    return sync_save(actor="t", segment=segment, destination=destination,
                     container={"list_id": LIST_ID, "tag": TAG})


def test_a_marketer_syncs_now_and_reads_the_counts_and_the_refused_member(
        login, screenshot, brest_sync, mailchimp, celery_eager):
    page = login("marie", Role.MARKETER)
    page.goto(page.base_url + "/admin/connectors/audiencesync/")
    assert page.locator("text=jamais exécutée").count() == 1  # never run yet
    page.click("text=Brest → mailchimp-fr")
    assert page.locator("#last-status").inner_text().strip() == "Jamais exécutée"
    assert page.locator("#runs tr[data-run]").count() == 0

    page.click("button[name=sync-now]")
    page.wait_for_selector("#runs tr[data-run]")
    run = page.locator("#runs tr[data-run]").first
    assert run.locator("[data-count=added]").inner_text() == "3"
    assert run.locator("[data-count=failed]").inner_text() == "1"
    assert int(run.locator("[data-count=api_calls]").inner_text()) >= 1
    assert page.get_by_text("3 ajoutés, 0 mis à jour, 0 retirés, 0 inchangés, 1 en échec"
                            ).is_visible()  # the message after the click
    assert page.locator("#in-container").inner_text() == "3"

    refused = SyncMember.objects.get(sync=brest_sync, status=SyncMember.Status.REJECTED)
    row = page.locator(f"#failed-members tr[data-profile='{refused.profile_id}']")
    assert "looks fake or invalid" in row.locator("[data-error]").inner_text()
    assert "example.com" not in page.content()  # no address, not even its domain
    assert page.locator("#reveal-emails").count() == 0  # marketers cannot reveal
    assert sorted(e.lower() for e in mailchimp.tag_members(TAG, LIST_ID)) == [
        "person0@cdp.test", "person1@cdp.test", "person2@cdp.test"]

    page.click("button[name=reconcile-now]")
    page.wait_for_selector("#runs tr[data-run] >> nth=1")
    assert page.locator("#runs tr[data-run]").count() == 2
    assert page.locator("#last-status").inner_text().strip().lower() == "réussie"
    assert page.locator("canvas.chart").is_visible()  # the last runs' counts, charted
    page.wait_for_timeout(1200)  # Chart.js animates the bars in
    screenshot(page, "sync-page")

    page.goto(page.base_url + "/admin/connectors/audiencesync/")
    assert page.locator("text=Réussie").count() == 1  # the list shows the last status
    screenshot(page, "sync-list")
