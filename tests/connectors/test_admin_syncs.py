"""The sync page: runs and their counts, refused members masked for marketers and
revealed (audited) to admins, "Sync now" / "Reconcile now" as POSTs, the list's last
status in a bounded number of queries."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cdp.models import AuditEvent
from cdp.roles import Role
from connectors.engine import sync_run
from connectors.models import AudienceSync, SyncMember, SyncRun
from connectors.services import sync_save
from tests.connectors.conftest import LIST_ID
from tests.connectors.test_admin import _staff


@pytest.fixture
def refused_sync(audience, mailchimp_sync):
    """Three people sent, one refused by Mailchimp (a domain it calls fake)."""
    audience.add(3)
    audience.add(1, start=3, domain="example.com")
    audience.evaluate()
    sync_run(sync_id=mailchimp_sync.pk)
    return mailchimp_sync


def _page(sync: AudienceSync) -> str:
    return f"/admin/connectors/audiencesync/{sync.pk}/sync/"


def test_a_marketer_reads_runs_and_refused_members_without_any_email(db, refused_sync):
    client = _staff("mia", Role.MARKETER)
    reads = AuditEvent.objects.filter(action="sync_member.view").count()
    response = client.get(_page(refused_sync) + "?reveal=1")  # not theirs to ask
    html = response.content.decode()
    assert response.status_code == 200
    refused = SyncMember.objects.get(sync=refused_sync, status=SyncMember.Status.REJECTED)
    assert str(refused.profile_id) in html and refused.remote_id in html
    assert "looks fake or invalid" in html
    assert "@example.com" not in html and "person3" not in html
    assert 'id="reveal-emails"' not in html
    assert AuditEvent.objects.filter(action="sync_member.view").count() == reads
    assert AuditEvent.objects.filter(action="access.denied", actor="user:mia",
                                     object_id="connectors.syncmember:reveal").count() == 1
    settings = client.get(f"/admin/connectors/audiencesync/{refused_sync.pk}/change/")
    assert _page(refused_sync) in settings.content.decode()  # the way back to the page
    run = SyncRun.objects.get(sync=refused_sync)
    assert (run.added, run.failed) == (3, 1)
    assert 'data-count="added">3<' in html and 'data-count="failed">1<' in html


def test_an_admin_reveals_the_refused_emails_and_each_read_is_audited(db, refused_sync):
    client = _staff("root", superuser=True)
    html = client.get(_page(refused_sync)).content.decode()
    assert 'id="reveal-emails"' in html and "person3@example.com" not in html
    html = client.get(_page(refused_sync) + "?reveal=1").content.decode()
    assert "person3@example.com" in html
    refused = SyncMember.objects.get(sync=refused_sync, status=SyncMember.Status.REJECTED)
    audit = AuditEvent.objects.get(action="sync_member.view")
    assert audit.actor == "user:root" and audit.profile_id == refused.profile_id


def test_the_dpo_and_the_steward_cannot_open_or_run_a_sync(db, refused_sync):
    for client in (_staff("dora", Role.DPO), _staff("sam", Role.STEWARD)):
        assert client.get(_page(refused_sync)).status_code == 403
        assert client.post(_page(refused_sync) + "sync/").status_code == 403


def test_sync_now_and_reconcile_now_are_posts_that_run_and_say_what_happened(
        db, refused_sync, celery_eager):
    client = _staff("mia", Role.MARKETER)
    assert client.get(_page(refused_sync) + "sync/").status_code == 405
    response = client.post(_page(refused_sync) + "sync/", follow=True)
    assert response.redirect_chain[-1][0] == _page(refused_sync)
    messages = [str(m) for m in response.context["messages"]]
    assert any("0 ajoutés" in m and "3 inchangés" in m for m in messages), messages
    assert SyncRun.objects.filter(sync=refused_sync).count() == 2

    response = client.post(_page(refused_sync) + "reconcile/", follow=True)
    assert SyncRun.objects.filter(sync=refused_sync).count() == 3
    assert response.status_code == 200
    assert client.post(_page(refused_sync) + "explode/").status_code == 404
    assert AuditEvent.objects.filter(action="sync.run_requested",
                                     actor="user:mia").count() == 2


def test_a_disabled_sync_is_not_run_and_the_page_says_why(db, refused_sync):
    sync_save(actor="t", sync=refused_sync, segment=refused_sync.segment,
              destination=refused_sync.destination, container=refused_sync.container,
              enabled=False)
    client = _staff("mia", Role.MARKETER)
    response = client.post(_page(refused_sync) + "sync/", follow=True)
    assert any("Exécution impossible" in str(m) and "disabled" in str(m)
               for m in response.context["messages"])
    assert SyncRun.objects.filter(sync=refused_sync).count() == 1


def test_the_list_shows_each_last_status_in_a_fixed_number_of_queries(
        db, refused_sync, mailchimp_destination):
    client = _staff("mia", Role.MARKETER)
    with CaptureQueriesContext(connection) as one:
        html = client.get("/admin/connectors/audiencesync/").content.decode()
    assert "1 en échec" in html and _page(refused_sync) in html
    for n in range(3):
        sync_save(actor="t", segment=refused_sync.segment, destination=mailchimp_destination,
                  container={"list_id": LIST_ID, "tag": f"cdp:other{n}"})
    with CaptureQueriesContext(connection) as four:
        html = client.get("/admin/connectors/audiencesync/").content.decode()
    assert html.count("jamais exécutée") == 3
    assert len(four) == len(one)
