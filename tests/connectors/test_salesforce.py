"""Salesforce specifics, against the live Salesforce fake over real HTTP.

The guarantees every connector shares (convergence under faults, crash, consent,
erasure, no-op runs, opt-outs) are in test_engine_matrix.py.
"""

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest
from django.test import override_settings
from django.utils import timezone

from cdp.models import ConsentEntry
from cdp.services.erasure import profiles_erase
from cdp.services.record_parsing import ParsedRecord
from cdp.services.records import records_upsert
from connectors.base import OutMember
from connectors.engine import sync_run
from connectors.erasure import deliveries_send
from connectors.models import AudienceSync, ErasureDelivery, SyncMember, SyncRun
from connectors.reconcile import sync_reconcile
from connectors.registry import connector_for
from connectors.salesforce import refusal, scrub
from connectors.services import destination_save, sync_save
from tests.fakes.salesforce import SalesforceFake

pytestmark = pytest.mark.django_db(transaction=False)
CAMPAIGN = "CDP: Brest"
COLLECTION = r"/composite/sobjects/Contact/CDP_Id__c$"
MEMBERS = r"/composite/sobjects$"


@pytest.fixture
def salesforce() -> Iterator[SalesforceFake]:
    with SalesforceFake(campaigns=(CAMPAIGN, "Other"), seed=7) as fake:
        yield fake
        assert fake.errors == []


def _sync(audience, fake: SalesforceFake, *, mapping: dict | None = None,
          container: dict | None = None, **limits) -> AudienceSync:
    destination = destination_save(
        actor="t", name="sf", kind="salesforce", purpose="email_marketing",
        credentials={"client_id": fake.client_id, "client_secret": fake.client_secret,
                     "refresh_token": fake.refresh_token},
        base_url=fake.token_url,  # the full token URL works as well as its host
        field_mapping=mapping or {"FirstName": "first_name", "LastName": "last_name"},
        timeout_s=2, **limits,
    )
    return sync_save(actor="t", segment=audience.segment, destination=destination,
                     container={"campaign_id": fake.campaign_id(CAMPAIGN), **(container or {})})


@pytest.fixture
def sf_sync(audience, salesforce) -> AudienceSync:
    return _sync(audience, salesforce)


def _campaign(fake: SalesforceFake, name: str = CAMPAIGN) -> set[str]:
    return fake.campaign_emails(fake.campaign_id(name))


def _emails(start: int, stop: int) -> set[str]:
    return {f"person{n}@cdp.test" for n in range(start, stop)}


def test_collections_of_200_then_memberships_then_a_second_run_writes_nothing(
        audience, salesforce, sf_sync):
    audience.add(1234)
    audience.evaluate()
    run = sync_run(sync_id=sf_sync.pk)
    assert run.status == SyncRun.Status.SUCCEEDED and run.added == 1234
    upserts = salesforce.requests(method="PATCH", path=COLLECTION)
    assert sorted(len(r.json()["records"]) for r in upserts) == [34] + [200] * 6
    assert all(r.json()["allOrNone"] is False for r in upserts)
    inserts = salesforce.requests(method="POST", path=MEMBERS)
    assert sorted(len(r.json()["records"]) for r in inserts) == [34] + [200] * 6
    assert _campaign(salesforce) == _emails(0, 1234)
    person = salesforce.contact("person7@cdp.test")
    assert person["CDP_Id__c"] == str(audience.profile(7)) and person["FirstName"] == "Ann7"
    assert SyncMember.objects.get(profile_id=audience.profile(7)).remote_id == str(
        audience.profile(7))
    assert len(salesforce.requests(path=r"/oauth2/token")) == 1  # one session for the run
    salesforce.clear_log()
    again = sync_run(sync_id=sf_sync.pk)
    assert again.unchanged == 1234 and again.write_calls == 0
    assert salesforce.requests(write=True) == []


def test_an_invalid_session_mid_run_is_refreshed_once(audience, salesforce):
    sync = _sync(audience, salesforce, max_concurrency=1)
    audience.add(450)
    audience.evaluate()
    batches = []

    def expire_after_first_batch() -> None:
        batches.append(1)
        if len(batches) == 1:
            salesforce.invalidate_sessions()

    run = sync_run(sync_id=sync.pk, on_batch=expire_after_first_batch)
    assert run.status == SyncRun.Status.SUCCEEDED and run.added == 450
    assert len(salesforce.requests(path=r"/oauth2/token")) == 2
    assert len(salesforce.requests(status=401)) == 1
    assert _campaign(salesforce) == _emails(0, 450)


def test_a_refused_refresh_stops_the_run_and_keeps_the_rest_pending(audience, salesforce):
    sync = _sync(audience, salesforce, max_concurrency=1)
    audience.add(450)
    audience.evaluate()

    def revoke() -> None:
        salesforce.revoke_refresh_token()
        salesforce.invalidate_sessions()

    run = sync_run(sync_id=sync.pk, on_batch=revoke)
    assert run.status == SyncRun.Status.FAILED and "invalid_grant" in run.error
    # The batch already under way when the token went may finish; the rest waits.
    assert run.added in (200, 400) and len(_campaign(salesforce)) == run.added
    assert SyncMember.objects.filter(status=SyncMember.Status.SYNCED).count() == run.added
    assert "refresh_token" not in run.error and salesforce.refresh_token not in run.error


def test_the_run_stops_before_the_daily_budget_and_finishes_after_it_resets(
        audience, salesforce):
    # Each batch costs 2 requests (upsert + members); the campaign check costs 1.
    sync = _sync(audience, salesforce, container={"api_reserve": 3}, max_concurrency=1)
    salesforce.set_api_usage(used=0, max=10)
    audience.add(1000)
    audience.evaluate()
    run = sync_run(sync_id=sync.pk)
    assert run.status == SyncRun.Status.PARTIAL and "daily API requests" in run.error
    assert len(_campaign(salesforce)) == 600  # three batches fitted
    # The engine may stop before writing down the last batch that came back (it is then
    # confirmed again, idempotently, by the next run).
    assert run.added in (400, 600)
    assert SyncMember.objects.filter(status=SyncMember.Status.SYNCED).count() == run.added
    assert salesforce.requests(status=403) == []  # stopped before Salesforce had to refuse
    assert salesforce.api_used == 7  # the reserve of 3 is left
    assert sync_run(sync_id=sync.pk).status == SyncRun.Status.PARTIAL  # still spent

    salesforce.reset_budget()  # the rolling 24 hours have passed
    later = sync_run(sync_id=sync.pk)
    assert later.status == SyncRun.Status.SUCCEEDED and later.added == 1000 - run.added
    assert _campaign(salesforce) == _emails(0, 1000) and len(salesforce.contacts()) == 1000


def test_a_budget_spent_by_others_mid_run_stops_cleanly(audience, salesforce):
    sync = _sync(audience, salesforce, container={"api_reserve": 0}, max_concurrency=1)
    audience.add(600)
    audience.evaluate()
    run = sync_run(sync_id=sync.pk, on_batch=lambda: salesforce.set_api_usage(used=100_000))
    assert run.status == SyncRun.Status.PARTIAL
    # Either Salesforce refused the next call (TotalRequests), or the usage it reported on
    # the last reply (Sforce-Limit-Info) already showed the budget spent: both stop cleanly.
    assert "TotalRequests" in run.error or "daily API requests" in run.error
    assert run.added in (200, 400) and run.failed == 0  # the batch under way may finish
    salesforce.reset_budget()
    assert sync_run(sync_id=sync.pk).added == 600 - run.added
    assert _campaign(salesforce) == _emails(0, 600)


def test_concurrency_throttling_is_retried_not_fatal(audience, salesforce, sf_sync):
    salesforce.set_limits(rate_limit=3, rate_window=0.3)
    audience.add(1000)
    audience.evaluate()
    with override_settings(CDP_SYNC_BACKOFF_BASE_S=0.1, CDP_SYNC_BACKOFF_CAP_S=0.4):
        run = sync_run(sync_id=sf_sync.pk)
    assert run.status == SyncRun.Status.SUCCEEDED and run.retries > 0
    throttled = salesforce.requests(status=403)
    assert throttled and all(r.fault == "rate_limit" for r in throttled)
    assert _campaign(salesforce) == _emails(0, 1000)


def test_per_record_errors_are_kept_without_the_address(audience, salesforce, sf_sync):
    audience.add(5)
    audience.add(1, start=50, domain="example.com")
    records_upsert(source=audience.source, records=[  # Salesforce needs a LastName
        ParsedRecord("p2", {"last_name": None})])
    audience.evaluate()
    run = sync_run(sync_id=sf_sync.pk)
    assert (run.added, run.failed, run.status) == (4, 2, SyncRun.Status.PARTIAL)
    invalid = SyncMember.objects.get(profile_id=audience.profile(50))
    assert invalid.status == SyncMember.Status.REJECTED
    assert invalid.error == "INVALID_EMAIL_ADDRESS: Email: invalid email address: <email>"
    unnamed = SyncMember.objects.get(profile_id=audience.profile(2))
    assert unnamed.status == SyncMember.Status.REJECTED
    assert unnamed.error.startswith("REQUIRED_FIELD_MISSING")
    assert refusal("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access") == (
        "UNABLE_TO_LOCK_ROW: unable to obtain exclusive access", True)
    assert scrub("x: Ada.L@Example.org, y") == "x: <email>, y"
    records_upsert(source=audience.source, records=[ParsedRecord("p2", {"last_name": "Kerr"})])
    assert sync_run(sync_id=sf_sync.pk).added == 1


def test_membership_follows_the_segment_and_the_person_stays(audience, salesforce, sf_sync):
    audience.add(10)
    audience.evaluate()
    sync_run(sync_id=sf_sync.pk)
    other = salesforce.campaign_id("Other")
    salesforce.add_to_campaign(other, salesforce.contact("person1@cdp.test")["Id"])
    records_upsert(source=audience.source, records=[
        ParsedRecord(f"p{n}", {"city": "Rennes"}) for n in (1, 2, 3)])
    audience.evaluate()
    run = sync_run(sync_id=sf_sync.pk)
    assert run.removed == 3 and _campaign(salesforce) == _emails(0, 10) - _emails(1, 4)
    assert _campaign(salesforce, "Other") == {"person1@cdp.test"}  # scoped to the campaign
    assert len(salesforce.contacts()) == 10  # left the audience, not deleted
    deletes = salesforce.requests(method="DELETE", path=MEMBERS)
    assert len(deletes) == 1 and len(deletes[0].query["ids"].split(",")) == 3
    records_upsert(source=audience.source, records=[
        ParsedRecord(f"p{n}", {"city": "Brest"}) for n in (1, 2, 3)])
    audience.evaluate()
    assert sync_run(sync_id=sf_sync.pk).added == 3
    assert _campaign(salesforce) == _emails(0, 10) and len(salesforce.contacts()) == 10


def test_someone_already_in_the_campaign_counts_as_added(audience, salesforce, sf_sync):
    [profile] = audience.add(1)
    audience.evaluate()
    person = salesforce.seed_contact({"LastName": "Morvan", "CDP_Id__c": str(profile)})
    salesforce.add_to_campaign(salesforce.campaign_id(CAMPAIGN), person)
    run = sync_run(sync_id=sf_sync.pk)
    assert (run.added, run.failed) == (1, 0)
    assert salesforce.contact(external_id=str(profile))["Email"] == "person0@cdp.test"


def test_erasure_deletes_the_contact_and_keeps_proof(audience, salesforce, sf_sync):
    audience.add(3)
    audience.evaluate()
    sync_run(sync_id=sf_sync.pk)
    target = audience.profile(1)
    salesforce.inject(fail_next=10, match=lambda r: r.method == "DELETE")
    profiles_erase(profile_ids=[target], actor="dpo", reason="Art. 17")
    delivery = ErasureDelivery.objects.get(profile_id=target)
    assert delivery.remote_id == str(target)
    assert deliveries_send() == {"failed": 1}
    salesforce.inject(fail_next=0)
    assert deliveries_send(now=timezone.now() + dt.timedelta(minutes=5)) == {"done": 1}
    delivery.refresh_from_db()
    assert delivery.status == "done" and delivery.vendor_response.startswith("204 Contact")
    assert salesforce.contact("person1@cdp.test") is None
    assert [c["Email"] for c in salesforce.recycle_bin()] == ["person1@cdp.test"]
    assert _campaign(salesforce) == {"person0@cdp.test", "person2@cdp.test"}
    # Sent again (a retried delivery): nothing left to delete is done too.
    ErasureDelivery.objects.filter(pk=delivery.pk).update(status="pending")
    assert deliveries_send() == {"done": 1}
    assert sync_run(sync_id=sf_sync.pk).failed == 0


def test_read_back_crosses_soql_pages_and_repairs_drift(audience):
    with SalesforceFake(campaigns=(CAMPAIGN,), query_page_size=4, seed=7) as salesforce:
        sync = _sync(audience, salesforce)
        audience.add(10)
        audience.evaluate()
        sync_run(sync_id=sync.pk)
        salesforce.set_opted_out("person3@cdp.test")
        salesforce.remove_from_campaign(salesforce.campaign_id(CAMPAIGN), "person4@cdp.test")
        salesforce.clear_log()
        run = sync_reconcile(sync_id=sync.pk)
        pages = salesforce.requests(method="GET", path=r"/query")
        # Read-back: 4 + 4 + 2 rows; then the run looks up person3's membership to remove.
        assert [p.path.rsplit("/", 1)[1][-2:] for p in pages[:3]] == ["ry", "-4", "-8"]
        assert len(pages) == 4 and "IN (" in pages[3].query["q"]
        assert run.opt_outs == 1 and run.repaired >= 1
        entry = ConsentEntry.objects.get(status="withdrawn")
        assert entry.profile_id == audience.profile(3)
        assert _campaign(salesforce) == _emails(0, 10) - {"person3@cdp.test"}
        assert sync_reconcile(sync_id=sync.pk).opt_outs == 0
        assert salesforce.errors == []


def test_leads_instead_of_contacts(audience, salesforce):
    sync = _sync(audience, salesforce, container={"object": "Lead"},
                 mapping={"LastName": "last_name", "Company": "city"})
    audience.add(3)
    audience.evaluate()
    assert sync_run(sync_id=sync.pk).added == 3
    leads = salesforce.contacts(type="Lead")
    assert {lead["Company"] for lead in leads} == {"Brest"} and salesforce.contacts() == []
    assert {m["LeadId"] for m in salesforce.campaign_members(
        salesforce.campaign_id(CAMPAIGN))} == {lead["Id"] for lead in leads}


@override_settings(CDP_SALESFORCE_BULK_THRESHOLD=50, CDP_SALESFORCE_BULK_POLL_S=0.01)
def test_large_runs_go_through_bulk_api_jobs_with_failed_results(audience, salesforce,
                                                                 sf_sync):
    audience.add(120)
    audience.add(2, start=500, domain="example.com")
    [already] = audience.add(1, start=900)
    person = salesforce.seed_contact({"LastName": "Morvan", "CDP_Id__c": str(already)})
    salesforce.add_to_campaign(salesforce.campaign_id(CAMPAIGN), person)
    audience.evaluate()
    run = sync_run(sync_id=sf_sync.pk)
    assert (run.added, run.failed, run.status) == (121, 2, SyncRun.Status.PARTIAL)
    assert salesforce.requests(path=COLLECTION) == [] and salesforce.requests(path=MEMBERS) == []
    jobs = [r.json() for r in salesforce.requests(method="POST", path=r"/jobs/ingest$")]
    assert [(j["object"], j["operation"]) for j in jobs] == [("Contact", "upsert"),
                                                             ("CampaignMember", "insert")]
    assert len(salesforce.requests(method="GET", path=r"/jobs/ingest/\w+$")) >= 4  # polled
    assert len(salesforce.requests(path=r"/failedResults$")) == 2
    refused = SyncMember.objects.get(profile_id=audience.profile(500))
    assert refused.status == SyncMember.Status.REJECTED
    assert refused.error == "INVALID_EMAIL_ADDRESS: Email: invalid email address: <email>"
    assert _campaign(salesforce) == _emails(0, 120) | {"person900@cdp.test"}
    assert sync_run(sync_id=sf_sync.pk).write_calls == 0


@override_settings(CDP_SALESFORCE_BULK_THRESHOLD=50, CDP_SALESFORCE_BULK_POLL_S=0.01)
def test_a_failed_bulk_job_leaves_its_members_pending(audience, salesforce):
    sync = _sync(audience, salesforce, mapping={"LastName": "last_name",
                                                "Shoe_Size__c": "first_name"})
    audience.add(60)
    audience.evaluate()
    run = sync_run(sync_id=sync.pk)
    assert run.status == SyncRun.Status.PARTIAL and run.failed == 60
    pending = SyncMember.objects.filter(status=SyncMember.Status.PENDING)
    assert pending.count() == 60
    assert "Field name not found : Shoe_Size__c" in pending.first().error


def test_erasure_finds_a_lead_the_delivery_does_not_name(audience, salesforce):
    sync = _sync(audience, salesforce, container={"object": "Lead"},
                 mapping={"LastName": "last_name", "Company": "city"})
    audience.add(2)
    audience.evaluate()
    sync_run(sync_id=sync.pk)
    profiles_erase(profile_ids=[audience.profile(0)], actor="dpo", reason="Art. 17")
    assert deliveries_send() == {"done": 1}
    assert ErasureDelivery.objects.get().vendor_response.startswith("204 Lead")
    assert [lead["Email"] for lead in salesforce.recycle_bin("Lead")] == ["person0@cdp.test"]


def test_a_rotated_refresh_token_is_used_for_the_rest_of_the_run(audience):
    with SalesforceFake(campaigns=(CAMPAIGN,), rotate_refresh_tokens=True) as salesforce:
        sync = _sync(audience, salesforce, max_concurrency=1)
        audience.add(450)
        audience.evaluate()
        run = sync_run(sync_id=sync.pk, on_batch=salesforce.invalidate_sessions)
        assert run.status == SyncRun.Status.SUCCEEDED and run.added == 450
        assert len(salesforce.requests(path=r"/oauth2/token", status=200)) >= 2


@override_settings(CDP_SALESFORCE_BULK_POLL_S=0.01)
def test_a_bulk_job_being_polled_reports_progress(audience):
    """The optional progress hook lets a caller renew a run's lease during a long job."""
    with SalesforceFake(campaigns=(CAMPAIGN,), bulk_seconds_per_record=0.002) as salesforce:
        connector = connector_for(_sync(audience, salesforce))
        ticks: list[int] = []
        connector.progress = lambda: ticks.append(1)
        try:
            connector.prepare()
            members = [OutMember(uuid.uuid4(), f"x{n}@cdp.test", {"LastName": "X"}, "h")
                       for n in range(50)]
            assert all(r.ok for r in connector.push_bulk(members))
        finally:
            connector.client.close()
        assert len(ticks) >= 2 and len(salesforce.campaign_members(
            salesforce.campaign_id(CAMPAIGN))) == 50


def test_mirror_mode_takes_strangers_out_of_the_campaign(audience, salesforce, sf_sync):
    audience.add(3)
    audience.evaluate()
    sync_run(sync_id=sf_sync.pk)
    campaign = salesforce.campaign_id(CAMPAIGN)
    for n in range(250):  # more than one delete call's worth, added by hand in Salesforce
        person = salesforce.seed_contact({"LastName": "S", "Email": f"s{n}@other.test"})
        salesforce.add_to_campaign(campaign, person)
    AudienceSync.objects.filter(pk=sf_sync.pk).update(mode="mirror")
    run = sync_reconcile(sync_id=sf_sync.pk)
    assert run.repaired == 250 and _campaign(salesforce) == _emails(0, 3)
    assert len(salesforce.contacts()) == 253  # out of the campaign, not deleted
    deletes = salesforce.requests(method="DELETE", path=MEMBERS)
    assert sorted(len(r.query["ids"].split(",")) for r in deletes) == [50, 200]
