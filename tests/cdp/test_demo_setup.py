"""The demo end to end (what `make run` does after migrating): demo customers resolved
into profiles, demo segments evaluated, audiences synced to the local vendor fakes, and a
login per role that works."""


import pytest
from django.core.management import call_command
from django.test import Client

from cdp.demo.activation import SEGMENTS, demo_activate
from cdp.demo.fakes import MAILCHIMP_LIST, SALESFORCE_CAMPAIGN, demo_fakes
from cdp.models import Profile, SourceRecord
from connectors.models import AudienceSync, SyncMember, SyncRun
from segments.models import Segment

CUSTOMERS = 300

@pytest.fixture
def demo_settings(settings, tmp_path):
    settings.DEBUG = True
    settings.VAR_DIR = tmp_path
    return settings


def _in_container(destination: str) -> set[str]:
    return {str(pid) for pid in SyncMember.objects.filter(
        sync__destination__name=destination, in_container=True
    ).values_list("profile_id", flat=True)}


def test_the_demo_resolves_segments_syncs_to_the_fakes_and_logs_each_role_in(
        transactional_db, celery_eager, demo_settings, tmp_path):
    call_command("generate_demo", customers=CUSTOMERS, seed=42, no_progress=True)
    call_command("train_identity_model")
    call_command("resolve_identities", no_progress=True)
    records, profiles = SourceRecord.objects.count(), Profile.objects.count()
    assert CUSTOMERS * 0.9 < profiles < records  # duplicates across sources were merged

    with demo_fakes() as fakes:
        report = demo_activate(fakes=fakes["info"], var_dir=tmp_path)
        servers = fakes["servers"]

        assert set(report.segments) == {name for _, name, _, _ in SEGMENTS}
        assert all(size > 0 for size in report.segments.values()), report.segments
        assert Segment.objects.filter(slug__in=[s for s, *_ in SEGMENTS], size__gt=0).count() \
            == len(SEGMENTS)

        assert len(report.syncs) == AudienceSync.objects.filter(enabled=True).count() == 4
        for outcome in report.syncs:
            assert outcome.status in (SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL)
            assert outcome.in_container > 0, outcome
        # What the CDP counts as sent is what each vendor holds.
        mailchimp = servers["mailchimp"].tag_members("cdp:recent-buyers", MAILCHIMP_LIST)
        assert len(mailchimp) == len(_in_container("demo-mailchimp"))
        hubspot = servers["hubspot"].list_members("CDP: newsletter Bretagne")
        assert len(hubspot) == len(_in_container("demo-hubspot"))
        salesforce = servers["salesforce"]
        # Contacts are keyed by profile id there: two people may share an email.
        campaign = salesforce.campaign_members(salesforce.campaign_id(SALESFORCE_CAMPAIGN))
        assert len(campaign) == len(_in_container("demo-salesforce"))
        delivered = {m["profile_id"] for d in servers["webhook"].deliveries(valid=True)
                     for m in d.json()["added"]}
        assert delivered == _in_container("demo-webhook")

    logins = (tmp_path / "demo-logins.txt").read_text().split()
    assert (tmp_path / "demo-logins.txt").stat().st_mode & 0o077 == 0
    roles = {role: (user, password) for role, user, password in report.logins}
    assert set(roles) == {"marketer", "data_steward", "dpo", "admin"}
    for role, (username, password) in roles.items():
        assert password in logins
        client = Client()
        assert client.login(username=username, password=password), role
        assert client.get("/admin/").status_code == 200, role
    marketer = Client()
    marketer.login(username=roles["marketer"][0], password=roles["marketer"][1])
    sync = AudienceSync.objects.get(destination__name="demo-mailchimp")
    assert marketer.get(f"/admin/connectors/audiencesync/{sync.pk}/sync/").status_code == 200


def test_setup_demo_is_refused_with_debug_off(settings, tmp_path):
    settings.DEBUG = False
    with pytest.raises(Exception, match="DEBUG"):
        call_command("setup_demo", fakes=tmp_path / "none.json", wait=0)
