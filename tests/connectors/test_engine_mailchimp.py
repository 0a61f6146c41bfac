"""Mailchimp specifics and engine behaviour, against the live Mailchimp fake.

The guarantees every connector shares (convergence under faults, crash, consent,
erasure, no-op runs) are in test_engine_matrix.py.
"""

import datetime as dt

import httpx
import pytest
from django.utils import timezone

from cdp.models import ConsentEntry, Source, SourceRecord
from cdp.privacy.consent import profiles_allowed_for
from cdp.services.erasure import profiles_erase
from cdp.services.record_parsing import ParsedRecord
from cdp.services.records import records_upsert
from connectors.engine import sync_run
from connectors.erasure import deliveries_send
from connectors.mailchimp import subscriber_hash
from connectors.models import AudienceSync, ErasureDelivery, SyncMember, SyncRun
from connectors.reconcile import sync_reconcile
from tests.connectors.conftest import LIST_ID, TAG

pytestmark = pytest.mark.django_db(transaction=False)


def _desired_emails(audience) -> set[str]:
    """Brest members allowed for email_marketing: what the tag must hold."""
    allowed = profiles_allowed_for("email_marketing").filter(
        memberships__segment=audience.segment, memberships__exited_at__isnull=True)
    records = SourceRecord.objects.filter(profile__in=allowed)
    from cdp.services.profiles import record_plain

    return {record_plain(r)["email"] for r in records}


def _assert_converged(mailchimp, audience) -> None:
    desired = _desired_emails(audience)
    assert mailchimp.tag_members(TAG) == desired
    members = mailchimp.members()
    assert len(members) == len({m.lower() for m in members})  # no duplicate contact


def _writes(mailchimp) -> int:
    return len(mailchimp.requests(write=True))


def test_initial_sync_in_batches_then_a_second_run_writes_nothing(audience, mailchimp,
                                                                  mailchimp_sync):
    audience.add(1234)
    audience.evaluate()
    run = sync_run(sync_id=mailchimp_sync.pk)
    assert run.status == SyncRun.Status.SUCCEEDED
    assert (run.added, run.updated, run.removed, run.failed) == (1234, 0, 0, 0)
    upserts = mailchimp.requests(method="POST", path=rf"/lists/{LIST_ID}$")
    assert sorted(len(r.json()["members"]) for r in upserts) == [234, 500, 500]
    # The answers are trimmed to what the engine reads (Mailchimp's partial responses).
    assert {r.query.get("fields") for r in upserts} == {
        "new_members.email_address,updated_members.email_address,errors,total_created,"
        "total_updated,error_count"}
    _assert_converged(mailchimp, audience)
    member = mailchimp.member("person7@cdp.test")
    assert member["merge_fields"]["FNAME"] == "Ann7" and member["status"] == "subscribed"

    mailchimp.clear_log()
    again = sync_run(sync_id=mailchimp_sync.pk)
    assert again.unchanged == 1234 and again.write_calls == 0
    assert _writes(mailchimp) == 0


def test_a_dead_worker_lease_expires_and_the_next_run_takes_over(audience, mailchimp,
                                                                 mailchimp_sync):
    audience.add(10)
    audience.evaluate()
    stale = timezone.now() - dt.timedelta(hours=1)
    SyncRun.objects.create(sync=mailchimp_sync, trigger="manual", started_at=stale,
                           heartbeat_at=stale)
    run = sync_run(sync_id=mailchimp_sync.pk)
    assert run is not None and run.status == SyncRun.Status.SUCCEEDED
    assert SyncRun.objects.filter(status="failed", error__contains="lease").count() == 1
    # A live run holds the lease: a concurrent trigger does nothing.
    now = timezone.now()
    SyncRun.objects.create(sync=mailchimp_sync, trigger="manual", started_at=now,
                           heartbeat_at=now)
    assert sync_run(sync_id=mailchimp_sync.pk) is None


def test_vendor_down_leaves_members_pending_for_later(audience, mailchimp, mailchimp_sync):
    audience.add(30)
    audience.evaluate()
    mailchimp.inject(fail_rate=1.0, match=lambda r: r.path.endswith(f"/lists/{LIST_ID}"))
    run = sync_run(sync_id=mailchimp_sync.pk)
    assert run.status == SyncRun.Status.PARTIAL and run.failed == 30 and run.flagged
    assert SyncMember.objects.filter(status=SyncMember.Status.PENDING).count() == 30
    mailchimp.inject(fail_rate=0.0)
    assert sync_run(sync_id=mailchimp_sync.pk).added == 30
    _assert_converged(mailchimp, audience)


def test_refused_credentials_stop_the_run(audience, mailchimp, mailchimp_sync):
    audience.add(5)
    audience.evaluate()
    mailchimp.api_keys.clear()
    run = sync_run(sync_id=mailchimp_sync.pk)
    assert run.status == SyncRun.Status.FAILED and "401" in run.error and run.flagged
    assert mailchimp.tag_members(TAG) == set()


def test_email_change_moves_the_tag_to_the_new_contact(audience, mailchimp, mailchimp_sync):
    audience.add(3)
    audience.evaluate()
    sync_run(sync_id=mailchimp_sync.pk)
    records_upsert(source=audience.source, records=[
        ParsedRecord("p1", {"email": "new.address@cdp.test"})])
    sync_run(sync_id=mailchimp_sync.pk)
    assert mailchimp.tag_members(TAG) == {"person0@cdp.test", "new.address@cdp.test",
                                          "person2@cdp.test"}


def test_nightly_reconciliation_repairs_drift_and_brings_opt_outs_back(
    audience, mailchimp, mailchimp_sync
):
    audience.add(40)
    audience.evaluate()
    sync_run(sync_id=mailchimp_sync.pk)
    # Drift made by someone else in Mailchimp: a tag removed, a stranger tagged, a field
    # edited, and two people opting out.
    segment_id = next(s["id"] for s in httpx.get(
        f"{mailchimp.base_url}/lists/{LIST_ID}/segments", auth=("x", mailchimp.api_key)
    ).json()["segments"] if s["name"] == TAG)
    httpx.post(f"{mailchimp.base_url}/lists/{LIST_ID}/segments/{segment_id}",
               auth=("x", mailchimp.api_key),
               json={"members_to_add": [], "members_to_remove": ["person3@cdp.test"]})
    httpx.patch(f"{mailchimp.base_url}/lists/{LIST_ID}/members/"
                f"{subscriber_hash('person4@cdp.test')}", auth=("x", mailchimp.api_key),
                json={"merge_fields": {"FNAME": "Edited"}})
    mailchimp.seed_member("stranger@cdp.test", tags=[TAG])
    mailchimp.set_status("person5@cdp.test", "unsubscribed")
    mailchimp.set_status("person6@cdp.test", "cleaned")

    run = sync_reconcile(sync_id=mailchimp_sync.pk)
    assert run.trigger == SyncRun.Trigger.NIGHTLY and run.opt_outs == 2
    withdrawn = ConsentEntry.objects.filter(status="withdrawn", source__name="dest-mc")
    assert {e.profile_id for e in withdrawn} == {audience.profile(5), audience.profile(6)}
    tagged = mailchimp.tag_members(TAG)
    assert "person3@cdp.test" in tagged  # repaired
    assert mailchimp.member("person4@cdp.test")["merge_fields"]["FNAME"] == "Ann4"
    assert "stranger@cdp.test" in tagged  # upsert_and_remove: not ours, left alone
    assert {"person5@cdp.test", "person6@cdp.test"}.isdisjoint(tagged)
    # A second night finds nothing new and writes nothing.
    mailchimp.clear_log()
    quiet = sync_reconcile(sync_id=mailchimp_sync.pk)
    assert quiet.opt_outs == 0 and quiet.write_calls == 0 and _writes(mailchimp) == 0

    AudienceSync.objects.filter(pk=mailchimp_sync.pk).update(mode="mirror")
    sync_reconcile(sync_id=mailchimp_sync.pk)
    assert "stranger@cdp.test" not in mailchimp.tag_members(TAG)  # mirror: exactly ours
    _assert_converged(mailchimp, audience)


def test_erasure_deletes_permanently_at_the_destination_and_keeps_proof(
    audience, mailchimp, mailchimp_sync
):
    audience.add(3)
    audience.evaluate()
    sync_run(sync_id=mailchimp_sync.pk)
    target = audience.profile(1)
    mailchimp.inject(fail_next=10, match=lambda r: "delete-permanent" in r.path)
    profiles_erase(profile_ids=[target], actor="dpo", reason="Art. 17")
    assert not SyncMember.objects.filter(profile_id=target).exists()
    delivery = ErasureDelivery.objects.get(profile_id=target)
    assert delivery.remote_id == subscriber_hash("person1@cdp.test")
    assert deliveries_send() == {"failed": 1}
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == 1
    # Retried later (after its wait), until the vendor confirms.
    mailchimp.inject(fail_next=0)
    later = timezone.now() + dt.timedelta(minutes=5)
    assert deliveries_send(now=later) == {"done": 1}
    delivery.refresh_from_db()
    assert delivery.status == "done" and delivery.vendor_response.startswith("204")
    assert subscriber_hash("person1@cdp.test") in mailchimp.forgotten()
    assert mailchimp.member("person1@cdp.test") is None
    assert sync_run(sync_id=mailchimp_sync.pk).failed == 0
    _assert_converged(mailchimp, audience)


def test_reimported_erased_person_is_not_resent(audience, mailchimp, mailchimp_sync):
    """After erasure, a stale source sending the person again does not put them back."""
    audience.add(2)
    audience.evaluate()
    sync_run(sync_id=mailchimp_sync.pk)
    profiles_erase(profile_ids=[audience.profile(0)], actor="dpo", reason="Art. 17")
    assert deliveries_send() == {"done": 1}
    audience.add(1, start=0)  # same email, with a fresh consent: flagged and restricted
    audience.evaluate()
    sync_run(sync_id=mailchimp_sync.pk)
    assert mailchimp.tag_members(TAG) == {"person1@cdp.test"}


def test_other_sources_golden_value_by_priority(audience, mailchimp, mailchimp_sync):
    """The sent first name is the higher-priority source's."""
    audience.add(1)
    shop = Source.objects.create(name="shop", priority=200)
    records_upsert(source=shop, records=[
        ParsedRecord("s1", {"email": "person0@cdp.test", "first_name": "Annie"})])
    audience.evaluate()
    sync_run(sync_id=mailchimp_sync.pk)
    assert mailchimp.member("person0@cdp.test")["merge_fields"]["FNAME"] == "Annie"


def test_key_rotation_covers_destination_credentials(audience, mailchimp, mailchimp_sync):
    """After rotate_keys the old master key can go: the destination still authenticates."""
    import base64
    import os

    from django.conf import settings
    from django.test import override_settings

    from cdp.privacy.rotation import keys_rotate

    audience.add(2)
    audience.evaluate()
    new_key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    with override_settings(CDP_ENCRYPTION_KEYS=f"{new_key},{settings.CDP_ENCRYPTION_KEYS}"):
        assert keys_rotate(actor="t").rotated == 3  # two data keys, one destination
    with override_settings(CDP_ENCRYPTION_KEYS=new_key):
        assert sync_run(sync_id=mailchimp_sync.pk).added == 2
