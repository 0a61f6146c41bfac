"""What starts a sync: withdrawal, restriction and erasure at once; segment changes
coalesced; the nightly batch at 02:00."""

import pytest
from django.conf import settings
from django.core.cache import cache

from cdp.models import Profile
from cdp.services.consent_parsing import ParsedConsent
from cdp.services.consents import consents_store
from cdp.services.erasure import subject_erase
from cdp.services.restriction import profile_restrict
from connectors import receivers
from connectors.engine import sync_run
from connectors.models import ErasureDelivery, SyncRun
from connectors.tasks import debounce_key
from tests.connectors.conftest import TAG


@pytest.fixture
def synced(audience, mailchimp, mailchimp_sync):
    audience.add(4)
    audience.evaluate()
    sync_run(sync_id=mailchimp_sync.pk)
    assert len(mailchimp.tag_members(TAG)) == 4
    return mailchimp_sync


def test_withdrawal_removes_the_person_at_once(audience, mailchimp, synced, celery_eager,
                                               django_capture_on_commit_callbacks):
    from django.utils import timezone

    withdrawal = ParsedConsent(identifier=("email", "person2@cdp.test"),
                               purpose="email_marketing", status="withdrawn",
                               lawful_basis="consent", captured_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        consents_store(source=audience.source, consents=[withdrawal], recorded_by="t")
    assert "person2@cdp.test" not in mailchimp.tag_members(TAG)
    assert SyncRun.objects.filter(trigger=SyncRun.Trigger.PRIVACY).exists()


def test_restriction_removes_the_person_at_once(audience, mailchimp, synced, celery_eager,
                                                django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        profile_restrict(profile=Profile.objects.get(pk=audience.profile(3)), actor="t",
                         reason="Art. 18")
    assert mailchimp.tag_members(TAG) == {f"person{n}@cdp.test" for n in range(3)}


def test_erasure_deletes_at_the_destination_after_commit(
    audience, mailchimp, synced, celery_eager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        result = subject_erase(profile_ids=[audience.profile(0)], identified_by="profile",
                               actor="dpo", reason="Art. 17")
    delivery = ErasureDelivery.objects.get(request=result.request)
    assert delivery.status == "done" and result.counts["destination_deletes_queued"] == 1
    assert mailchimp.member("person0@cdp.test") is None


def test_membership_changes_are_coalesced_into_one_run(audience, synced, monkeypatch):
    queued = []
    monkeypatch.setattr(receivers.sync_run_task, "apply_async",
                        lambda args, countdown: queued.append((args, countdown)))
    cache.delete(debounce_key(synced.pk))
    for _ in range(5):
        receivers.sync_on_membership_change(sender=None, segment_id=audience.segment.pk)
    assert queued == [((synced.pk, "change"), settings.CDP_SYNC_DEBOUNCE_S)]
    cache.delete(debounce_key(synced.pk))


def test_nightly_and_delivery_retries_are_scheduled():
    nightly = settings.CELERY_BEAT_SCHEDULE["connectors-nightly"]
    assert nightly["task"] == "connectors.tasks.syncs_nightly_task"
    assert nightly["schedule"].hour == {2} and nightly["schedule"].minute == {0}
    assert settings.TIME_ZONE == "Europe/Paris" or settings.CELERY_TIMEZONE
    retry = settings.CELERY_BEAT_SCHEDULE["connectors-erasure-deliveries"]
    assert retry["task"] == "connectors.tasks.erasure_deliveries_task"


def test_a_merge_hands_what_was_sent_to_the_survivor_once(audience, synced,
                                                          django_capture_on_commit_callbacks):
    """Two profiles sent to one sync merge into a third: one of their rows becomes the
    survivor's (same vendor contact), the other stays to be removed by the next run."""
    from cdp.models import SourceRecord
    from connectors.models import SyncMember
    from identity.reassign import records_reassign

    survivor = audience.profile(3)
    SyncMember.objects.filter(profile_id=survivor).delete()  # the survivor was never sent
    first, second = audience.profile(0), audience.profile(1)
    moves = {SourceRecord.objects.get(profile_id=pid).pk: survivor for pid in (first, second)}
    with django_capture_on_commit_callbacks(execute=True):
        change = records_reassign(moves=moves, rule="test", actor="t")
    assert set(change.retired) == {first, second}
    rows = SyncMember.objects.filter(sync=synced)
    assert rows.filter(profile_id=survivor).count() == 1
    assert rows.filter(profile_id__in=[first, second]).count() == 1


def test_a_merge_into_a_profile_already_sent_moves_nothing(audience, synced,
                                                           django_capture_on_commit_callbacks):
    from cdp.models import SourceRecord
    from connectors.models import SyncMember
    from identity.reassign import records_reassign

    survivor, merged = audience.profile(3), audience.profile(0)
    record = SourceRecord.objects.get(profile_id=merged).pk
    with django_capture_on_commit_callbacks(execute=True):
        records_reassign(moves={record: survivor}, rule="test", actor="t")
    rows = SyncMember.objects.filter(sync=synced)
    assert rows.filter(profile_id=survivor).count() == 1
    assert rows.filter(profile_id=merged).count() == 1  # left for the next run to remove
