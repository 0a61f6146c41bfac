"""The engine's guarantees, for every connector (one harness per vendor, harness.py).

After an initial sync, changes (adds, removes, field edits, consent withdrawal, erasure)
and a crash in the middle of a run, each under 10% injected 5xx and rate limiting, the
vendor's read-back equals the desired audience exactly: nobody missing, nobody extra,
no duplicate contact. A second sync with no change sends zero write calls.
"""

import datetime as dt

import pytest
from django.utils import timezone

from cdp.models import ConsentEntry, SourceRecord
from cdp.privacy.consent import profiles_allowed_for
from cdp.services.erasure import profiles_erase
from cdp.services.profiles import record_plain
from cdp.services.record_parsing import ParsedRecord
from cdp.services.records import records_upsert
from connectors.engine import sync_run
from connectors.erasure import deliveries_send
from connectors.models import ErasureDelivery, SyncMember, SyncRun
from connectors.reconcile import sync_reconcile
from connectors.services import sync_save
from tests.connectors.harness import HARNESSES


@pytest.fixture(params=HARNESSES, ids=lambda h: h.name)
def vendor(request, db):
    harness = request.param
    with harness.start() as fake:
        yield harness, fake


@pytest.fixture
def sync(audience, vendor):
    harness, fake = vendor
    return sync_save(actor="t", segment=audience.segment, destination=harness.destination(fake),
                     container=harness.container(fake))


def _desired(audience) -> set[str]:
    allowed = profiles_allowed_for("email_marketing").filter(
        memberships__segment=audience.segment, memberships__exited_at__isnull=True)
    return {record_plain(r)["email"].lower()
            for r in SourceRecord.objects.filter(profile__in=allowed)}


def _converged(vendor, audience) -> None:
    harness, fake = vendor
    assert harness.audience(fake) == _desired(audience)
    contacts = harness.contacts(fake)
    assert len(contacts) == len(set(contacts)), "duplicate contacts at the vendor"


def _until_done(sync) -> SyncRun:
    for _ in range(6):
        run = sync_run(sync_id=sync.pk)
        if run.status == SyncRun.Status.SUCCEEDED:
            return run
    raise AssertionError(f"not converged: {run.status} {run.error}")


def _deliver_all() -> None:
    """Erasure deliveries, retried (with their waits) until the vendor confirms."""
    for minutes in range(0, 24 * 60, 60):
        deliveries_send(now=timezone.now() + dt.timedelta(minutes=minutes))
        if not ErasureDelivery.objects.exclude(status="done").exists():
            return
    raise AssertionError("erasure deliveries not confirmed")


def test_initial_sync_then_no_op_sync_writes_nothing(vendor, audience, sync):
    harness, fake = vendor
    audience.add(650)
    audience.evaluate()
    run = sync_run(sync_id=sync.pk)
    assert run.status == SyncRun.Status.SUCCEEDED and run.added == 650
    _converged(vendor, audience)
    assert harness.first_name(fake, "person7@cdp.test") == "Ann7"
    fake.clear_log()
    again = sync_run(sync_id=sync.pk)
    assert again.unchanged == 650 and again.write_calls == 0 and harness.writes(fake) == 0


def test_a_profile_without_consent_is_never_sent(vendor, audience, sync):
    harness, fake = vendor
    audience.add(20)
    audience.add(5, start=100, consent=False)
    withdrawn = audience.add(3, start=200)
    ConsentEntry.objects.bulk_create([
        ConsentEntry(profile_id=pid, purpose="email_marketing", status="withdrawn",
                     captured_at=timezone.now(), source=audience.source) for pid in withdrawn])
    audience.evaluate()
    run = sync_run(sync_id=sync.pk)
    assert run.added == 20 and run.skipped_consent == 8
    assert not any(f"person{n}@cdp.test" in harness.contacts(fake) for n in (100, 200, 202))
    _converged(vendor, audience)


def test_every_change_converges_under_faults(vendor, audience, sync):
    harness, fake = vendor
    fake.inject(fail_rate=0.1, write_then_fail_rate=0.05)
    fake.set_limits(rate_limit=8, rate_window=1.0, retry_after=True)
    audience.add(700)
    audience.evaluate()
    _until_done(sync)
    _converged(vendor, audience)

    audience.add(120, start=5000)  # adds
    records_upsert(source=audience.source, records=[  # removes: they moved away
        ParsedRecord(f"p{n}", {"city": "Rennes"}) for n in range(60)])
    records_upsert(source=audience.source, records=[  # field edits
        ParsedRecord(f"p{n}", {"first_name": f"Anne-{n}"}) for n in range(100, 140)])
    ConsentEntry.objects.create(profile_id=audience.profile(200), purpose="email_marketing",
                                status="withdrawn", captured_at=timezone.now(),
                                source=audience.source)  # withdrawal
    profiles_erase(profile_ids=[audience.profile(201)], actor="t", reason="Art. 17")
    audience.evaluate()
    _until_done(sync)
    _deliver_all()
    _converged(vendor, audience)
    assert harness.first_name(fake, "person120@cdp.test") == "Anne-120"
    assert harness.erased(fake, "person201@cdp.test")
    assert "person5@cdp.test" in harness.contacts(fake)  # left the audience, not deleted


def test_a_crash_midway_converges_without_duplicates(vendor, audience, sync):
    harness, fake = vendor
    fake.inject(fail_rate=0.1)
    audience.add(900)
    audience.evaluate()
    batches = []

    def crash_after_two() -> None:
        batches.append(1)
        if len(batches) == 2:
            raise SystemExit("worker killed")

    with pytest.raises(SystemExit):
        sync_run(sync_id=sync.pk, on_batch=crash_after_two)
    assert SyncRun.objects.get().status == SyncRun.Status.FAILED
    _until_done(sync)
    _converged(vendor, audience)
    assert len(harness.contacts(fake)) == 900


def test_invalid_email_is_refused_for_that_member_only(vendor, audience, sync):
    harness, fake = vendor
    audience.add(10)
    audience.add(1, start=50, domain="example.com")  # refused by every fake
    audience.evaluate()
    run = sync_run(sync_id=sync.pk)
    assert (run.added, run.failed, run.status) == (10, 1, SyncRun.Status.PARTIAL)
    refused = SyncMember.objects.get(profile_id=audience.profile(50))
    assert refused.status == SyncMember.Status.REJECTED and refused.error
    assert "example.com" not in refused.error
    fake.clear_log()
    assert sync_run(sync_id=sync.pk).write_calls == 0 and harness.writes(fake) == 0
    # Once its data changes, it is tried again.
    records_upsert(source=audience.source, records=[
        ParsedRecord("p50", {"email": "fixed50@cdp.test"})])
    fixed = sync_run(sync_id=sync.pk)
    assert fixed.added == 1 and fixed.failed == 0
    _converged(vendor, audience)


def test_opt_outs_at_the_vendor_come_back_as_withdrawals(vendor, audience, sync):
    harness, fake = vendor
    audience.add(10)
    audience.evaluate()
    sync_run(sync_id=sync.pk)
    harness.opt_out(fake, "person3@cdp.test")
    run = sync_reconcile(sync_id=sync.pk)
    assert run.opt_outs == 1
    entry = ConsentEntry.objects.get(status="withdrawn")
    assert entry.profile_id == audience.profile(3)
    assert entry.source.name == f"dest-{sync.destination.name}"
    _converged(vendor, audience)
    assert sync_reconcile(sync_id=sync.pk).opt_outs == 0  # no new entry each night
