"""HubSpot specifics against the live HubSpot fake: OAuth refresh, pacing from the
rate-limit headers, multi-status per-item errors, list membership by record id, GDPR
delete, paged read-back.

The guarantees every connector shares are in test_engine_matrix.py.
"""

from collections.abc import Iterator

import pytest

from cdp.services.erasure import profiles_erase
from cdp.services.record_parsing import ParsedRecord
from cdp.services.records import records_upsert
from connectors.engine import sync_run
from connectors.erasure import deliveries_send
from connectors.hubspot import HubspotConnector
from connectors.models import Destination, ErasureDelivery, SyncMember, SyncRun
from connectors.reconcile import sync_reconcile
from connectors.registry import credentials_seal
from connectors.services import destination_save, sync_save
from tests.fakes.hubspot import HubspotFake, hubspot_limits
from tests.fakes.hubspot.store import DEFAULT_PROPERTIES

LIST = "cdp: brest"
UPSERT = r"/batch/upsert$"
MAPPING = {"firstname": "first_name", "lastname": "last_name"}


@pytest.fixture
def hubspot() -> Iterator[HubspotFake]:
    with HubspotFake(seed=11) as fake:
        yield fake
        assert fake.errors == []


def destination(fake: HubspotFake, *, name: str = "hs", oauth: bool = False,
                mapping: dict[str, str] | None = None, **limits) -> Destination:
    made = destination_save(
        actor="t", name=name, kind="hubspot", purpose="email_marketing",
        credentials={"access_token": fake.token}, base_url=fake.base_url,
        field_mapping=mapping or MAPPING, timeout_s=2, **limits)
    if oauth:
        # destination_save takes only the private-app form today (see the report).
        made.credentials_enc = credentials_seal({
            "client_id": fake.client_id, "client_secret": fake.client_secret,
            "refresh_token": fake.refresh_token})
        made.save(update_fields=["credentials_enc"])
    return made


def make_sync(audience, dest: Destination, **container):
    return sync_save(actor="t", segment=audience.segment, destination=dest,
                     container=container or {"list_name": LIST})


def test_batches_of_100_then_list_membership_by_record_id(audience, hubspot):
    list_id = hubspot.add_list(LIST)
    sync = make_sync(audience, destination(hubspot), list_id=list_id)
    audience.add(234)
    audience.evaluate()
    run = sync_run(sync_id=sync.pk)
    assert (run.status, run.added) == (SyncRun.Status.SUCCEEDED, 234)
    upserts = hubspot.requests(path=UPSERT)
    assert sorted(len(r.json()["inputs"]) for r in upserts) == [34, 100, 100]
    sent = [i for r in upserts for i in r.json()["inputs"]]
    assert all(i["idProperty"] == "email" and i["objectWriteTraceId"] for i in sent)
    adds = hubspot.requests(path=r"/memberships/add$")
    assert len(adds) == 3 and all(i.isdigit() for r in adds for i in r.json())
    row = SyncMember.objects.get(profile_id=audience.profile(7))
    assert row.remote_id == hubspot.record_id("person7@cdp.test")
    assert hubspot.contact("person7@cdp.test")["properties"]["firstname"] == "Ann7"
    hubspot.clear_log()
    again = sync_run(sync_id=sync.pk)
    assert again.unchanged == 234 and again.write_calls == 0
    assert hubspot.requests(write=True) == []


def test_leaving_the_segment_removes_list_membership_only(audience, hubspot):
    sync = make_sync(audience, destination(hubspot))
    audience.add(10)
    audience.evaluate()
    sync_run(sync_id=sync.pk)
    leaving = [hubspot.record_id(f"person{n}@cdp.test") for n in range(3)]
    records_upsert(source=audience.source, records=[
        ParsedRecord(f"p{n}", {"city": "Rennes"}) for n in range(3)])
    audience.evaluate()
    hubspot.clear_log()
    run = sync_run(sync_id=sync.pk)
    assert run.removed == 3
    (removal,) = hubspot.requests(path=r"/memberships/remove$")
    assert sorted(removal.json()) == sorted(leaving)
    assert len(hubspot.list_members(LIST)) == 7
    assert len(hubspot.contact_emails()) == 10  # contacts are kept
    assert not SyncMember.objects.get(profile_id=audience.profile(0)).in_container


def test_an_email_change_moves_the_membership_to_the_new_contact(audience, hubspot):
    sync = make_sync(audience, destination(hubspot))
    audience.add(3)
    audience.evaluate()
    sync_run(sync_id=sync.pk)
    records_upsert(source=audience.source, records=[
        ParsedRecord("p1", {"email": "new.address@cdp.test"})])
    sync_run(sync_id=sync.pk)
    assert hubspot.list_members(LIST) == {"person0@cdp.test", "new.address@cdp.test",
                                          "person2@cdp.test"}


def test_refused_addresses_come_back_per_item(audience, hubspot):
    sync = make_sync(audience, destination(hubspot))
    audience.add(8)
    audience.add(1, start=50, domain="example.com")  # refused by the fake's rules
    audience.add(1, start=60)
    with hubspot.lock:
        hubspot.portal.blocklist.add("person60@cdp.test")  # GDPR-deleted earlier
    audience.evaluate()
    run = sync_run(sync_id=sync.pk)
    assert (run.added, run.failed, run.status) == (8, 2, SyncRun.Status.PARTIAL)
    (upsert,) = hubspot.requests(path=UPSERT)
    assert upsert.status == 207
    for n, code in ((50, "INVALID_EMAIL"), (60, "BLOCKLISTED_EMAIL")):
        row = SyncMember.objects.get(profile_id=audience.profile(n))
        assert row.status == SyncMember.Status.REJECTED and code in row.error
        assert "@" not in row.error
    assert len(hubspot.list_members(LIST)) == 8


def test_oauth_token_renewed_ahead_of_expiry_mid_run(audience):
    limits = hubspot_limits(service_time=0.15)
    with HubspotFake(access_token_ttl=2.0, limits=limits) as fake:
        sync = make_sync(audience, destination(fake, oauth=True, max_concurrency=1))
        audience.add(600)
        audience.evaluate()
        run = sync_run(sync_id=sync.pk)
        assert run.status == SyncRun.Status.SUCCEEDED and run.added == 600
        assert fake.token_requests() >= 2
        assert fake.requests(status=401) == []
        assert len(fake.list_members(LIST)) == 600
        assert fake.errors == []


def test_oauth_401_mid_run_refreshes_once_and_carries_on(audience, hubspot):
    sync = make_sync(audience, destination(hubspot, oauth=True, max_concurrency=1))
    audience.add(300)
    audience.evaluate()
    batches = []

    def expire_after_first() -> None:
        batches.append(1)
        if len(batches) == 1:
            hubspot.expire_tokens()

    run = sync_run(sync_id=sync.pk, on_batch=expire_after_first)
    assert run.status == SyncRun.Status.SUCCEEDED and run.added == 300
    expired = hubspot.requests(status=401)
    assert len(expired) == 1 and hubspot.token_requests() == 2
    assert len(hubspot.list_members(LIST)) == 300


def test_a_refused_refresh_stops_the_run_and_leaves_members_pending(audience, hubspot):
    sync = make_sync(audience, destination(hubspot, oauth=True, max_concurrency=1))
    audience.add(300)
    audience.evaluate()

    def revoke() -> None:
        hubspot.revoke_refresh_token(hubspot.refresh_token)
        hubspot.expire_tokens()

    run = sync_run(sync_id=sync.pk, on_batch=revoke)
    assert run.status == SyncRun.Status.FAILED and "refresh" in run.error
    # The first batch (perhaps a second one already under way) got in; the rest waits.
    synced = SyncMember.objects.filter(status=SyncMember.Status.SYNCED).count()
    assert synced in (100, 200) and len(hubspot.list_members(LIST)) == synced


def _throttled_run(audience, hubspot, name: str) -> tuple[SyncRun, int]:
    hubspot.set_limits(rate_limit=6, rate_window=1.0, retry_after=False)
    hubspot.clear_log()
    sync = make_sync(audience, destination(hubspot, name=name, rate_per_s=1000,
                                           max_retries=10), list_name=name)
    run = sync_run(sync_id=sync.pk)
    return run, len(hubspot.requests(status=429))


def test_pacing_from_the_headers_avoids_429s(audience, hubspot, monkeypatch):
    audience.add(600)
    audience.evaluate()
    paced, paced_429 = _throttled_run(audience, hubspot, "paced")
    assert paced.status == SyncRun.Status.SUCCEEDED and paced.added == 600
    monkeypatch.setattr(HubspotConnector, "_pace", lambda self, *a: None)
    _, blind_429 = _throttled_run(audience, hubspot, "blind")
    assert paced_429 <= 2 and blind_429 >= 10


def test_daily_budget_spent_stops_the_run_cleanly(audience, hubspot):
    hubspot.daily_limit = 6
    sync = make_sync(audience, destination(hubspot, max_concurrency=1))
    audience.add(500)
    audience.evaluate()
    run = sync_run(sync_id=sync.pk)
    assert run.status == SyncRun.Status.PARTIAL and "daily" in run.error
    assert SyncMember.objects.filter(status=SyncMember.Status.SYNCED).count() < 500
    hubspot.daily_limit = None
    assert sync_run(sync_id=sync.pk).status == SyncRun.Status.SUCCEEDED
    assert len(hubspot.list_members(LIST)) == 500


def test_erasure_is_a_gdpr_delete_by_record_id(audience, hubspot):
    sync = make_sync(audience, destination(hubspot))
    audience.add(5)
    audience.evaluate()
    sync_run(sync_id=sync.pk)
    record_id = hubspot.record_id("person2@cdp.test")
    profiles_erase(profile_ids=[audience.profile(2)], actor="t", reason="Art. 17")
    deliveries_send()
    delivery = ErasureDelivery.objects.get()
    assert delivery.status == ErasureDelivery.Status.DONE and "204" in delivery.vendor_response
    (call,) = hubspot.requests(path=r"/gdpr-delete$")
    assert call.json() == {"objectId": record_id}
    assert hubspot.contact("person2@cdp.test") is None
    assert "person2@cdp.test" in hubspot.gdpr_deleted()
    assert "person2@cdp.test" not in hubspot.list_members(LIST)
    # Sent again (the record was already gone): HubSpot's 404 also means done.
    ErasureDelivery.objects.update(status=ErasureDelivery.Status.PENDING)
    deliveries_send()
    assert "404" in ErasureDelivery.objects.get().vendor_response


def test_read_back_pages_through_the_list_and_repairs_drift(audience, hubspot, monkeypatch):
    monkeypatch.setattr(HubspotConnector, "list_page", 7)
    with hubspot.lock:
        hubspot.portal.properties = DEFAULT_PROPERTIES | {"cdp_city"}
    mapping = {**MAPPING, "cdp_city": "city"}
    sync = make_sync(audience, destination(hubspot, mapping=mapping))
    audience.add(30)
    audience.evaluate()
    sync_run(sync_id=sync.pk)
    assert hubspot.contact("person1@cdp.test")["properties"]["cdp_city"] == "Brest"
    hubspot.clear_log()
    quiet = sync_reconcile(sync_id=sync.pk)
    assert quiet.repaired == 0 and quiet.write_calls == 0  # custom property read back too
    assert len(hubspot.requests(path=r"/memberships$")) >= 2 * 5  # 30 members, 7 a page
    hubspot.list_remove(LIST, "person4@cdp.test")
    hubspot.edit_contact("person5@cdp.test", firstname="Edited")
    hubspot.set_opted_out("person6@cdp.test")
    run = sync_reconcile(sync_id=sync.pk)
    assert (run.repaired, run.opt_outs) == (2, 1)
    assert hubspot.contact("person5@cdp.test")["properties"]["firstname"] == "Ann5"
    members = hubspot.list_members(LIST)
    assert "person4@cdp.test" in members and "person6@cdp.test" not in members
    assert len(members) == 29


def test_a_dynamic_list_fails_the_run_with_a_clear_error(audience, hubspot):
    list_id = hubspot.add_list("cdp: dynamic", "DYNAMIC")
    sync = make_sync(audience, destination(hubspot), list_id=list_id)
    audience.add(3)
    audience.evaluate()
    run = sync_run(sync_id=sync.pk)
    assert run.status == SyncRun.Status.FAILED and "DYNAMIC" in run.error
    assert hubspot.contact_emails() == []


def test_credentials_and_container_forms():
    assert HubspotConnector.container_error({"list_name": "cdp: vip"}) is None
    assert HubspotConnector.container_error({"list_id": "12"}) is None
    assert "list_id or list_name" in HubspotConnector.container_error({"segment": "x"})
    with pytest.raises(ValueError, match="access_token"):
        HubspotConnector.base_url("", {"client_id": "x"})
    oauth = dict.fromkeys(("client_id", "client_secret", "refresh_token"), "x")
    assert HubspotConnector.base_url("", oauth) == "https://api.hubapi.com"
    assert HubspotConnector.client_options(oauth) == {}  # the token comes at the first call


def test_a_sync_without_a_list_is_refused_and_a_stored_one_fails_clearly(audience, hubspot):
    from connectors.models import AudienceSync
    from connectors.services import Invalid

    dest = destination(hubspot)
    with pytest.raises(Invalid, match="list_id or list_name"):
        make_sync(audience, dest, segment_note="no list")
    # One stored before the check existed (or edited in the database) fails at run time.
    sync = AudienceSync.objects.create(segment=audience.segment, destination=dest,
                                       container={"segment_note": "no list"})
    audience.add(2)
    audience.evaluate()
    run = sync_run(sync_id=sync.pk)
    assert run.status == SyncRun.Status.FAILED and "list_id or list_name" in run.error
