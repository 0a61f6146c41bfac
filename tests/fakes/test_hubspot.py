"""HubSpot fake: the vendor rules the connector doc lists (sections 2 and 5.3)."""

from collections.abc import Iterator

import httpx
import pytest

from tests.fakes.base import Limits
from tests.fakes.hubspot import HubspotFake

CONTACTS = "/crm/v3/objects/contacts"
UPSERT = f"{CONTACTS}/batch/upsert"
LISTS = "/crm/v3/lists"


@pytest.fixture
def hubspot() -> Iterator[HubspotFake]:
    with HubspotFake(seed=3) as fake:
        yield fake
        assert fake.errors == []


@pytest.fixture
def client(hubspot: HubspotFake) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=hubspot.base_url, timeout=5,
                      headers={"Authorization": f"Bearer {hubspot.token}"}) as http:
        yield http


def item(email: str, trace: str | None = None, **properties: str) -> dict:
    out = {"idProperty": "email", "id": email, "properties": {"email": email, **properties}}
    if trace:
        out["objectWriteTraceId"] = trace
    return out


def upsert(client: httpx.Client, *items: dict) -> httpx.Response:
    return client.post(UPSERT, json={"inputs": list(items)})


def new_list(client: httpx.Client, name: str = "cdp: vip", kind: str = "MANUAL") -> str:
    response = client.post(f"{LISTS}/", json={"name": name, "objectTypeId": "0-1",
                                              "processingType": kind})
    assert response.status_code == 200
    return response.json()["list"]["listId"]


# -- auth ----------------------------------------------------------------------------------
def test_missing_unknown_and_unscoped_tokens_are_refused(hubspot, client) -> None:
    bare = httpx.get(f"{hubspot.base_url}{CONTACTS}")
    body = bare.json()
    assert (bare.status_code, body["category"]) == (401, "INVALID_AUTHENTICATION")
    assert body["correlationId"] == bare.headers["x-hubspot-correlation-id"]
    wrong = httpx.get(f"{hubspot.base_url}{CONTACTS}", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    hubspot.add_private_token("pat-read-only", frozenset({"crm.objects.contacts.read"}))
    read_only = {"Authorization": "Bearer pat-read-only"}
    assert httpx.get(f"{hubspot.base_url}{CONTACTS}", headers=read_only).status_code == 200
    refused = httpx.post(f"{hubspot.base_url}{UPSERT}", headers=read_only,
                         json={"inputs": [item("a@cdp.test")]})
    assert (refused.status_code, refused.json()["category"]) == (403, "MISSING_SCOPES")
    assert hubspot.contact("a@cdp.test") is None


def _grant(hubspot: HubspotFake, **form: str) -> httpx.Response:
    data = {"grant_type": "refresh_token", "client_id": hubspot.client_id,
            "client_secret": hubspot.client_secret, "refresh_token": hubspot.refresh_token,
            **form}
    return httpx.post(f"{hubspot.base_url}/oauth/v1/token", data=data)


def test_oauth_tokens_expire_and_are_refreshed(hubspot) -> None:
    granted = _grant(hubspot)
    assert granted.status_code == 200
    body = granted.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 1800
    assert body["refresh_token"] == hubspot.refresh_token  # HubSpot's do not rotate
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    ok = httpx.get(f"{hubspot.base_url}{CONTACTS}", headers=headers)
    assert ok.status_code == 200
    assert "x-hubspot-ratelimit-daily" not in ok.headers  # absent for OAuth calls
    assert "x-hubspot-ratelimit-max" in ok.headers
    hubspot.expire_tokens()
    expired = httpx.get(f"{hubspot.base_url}{CONTACTS}", headers=headers)
    assert (expired.status_code, expired.json()["category"]) == (401, "EXPIRED_AUTHENTICATION")
    assert "expired" in expired.json()["message"]
    again = _grant(hubspot).json()["access_token"]
    assert httpx.get(f"{hubspot.base_url}{CONTACTS}",
                     headers={"Authorization": f"Bearer {again}"}).status_code == 200


def test_token_endpoint_errors_and_authorization_code(hubspot) -> None:
    assert _grant(hubspot, refresh_token="rt-unknown").json()["status"] == "BAD_REFRESH_TOKEN"
    assert _grant(hubspot, client_id="other").json()["status"] == "BAD_CLIENT_ID"
    assert _grant(hubspot, grant_type="password").json()["status"] == "BAD_GRANT_TYPE"
    code = hubspot.authorize(redirect_uri="https://cdp.test/cb")
    form = {"grant_type": "authorization_code", "code": code,
            "redirect_uri": "https://cdp.test/cb"}
    first = _grant(hubspot, **form)
    assert first.status_code == 200 and first.json()["refresh_token"].startswith("rt-")
    assert _grant(hubspot, **form).json()["status"] == "BAD_AUTH_CODE"  # single use
    hubspot.revoke_refresh_token(hubspot.refresh_token)
    assert _grant(hubspot).status_code == 400


# -- limits ---------------------------------------------------------------------------------
def test_rate_limit_headers_on_every_answer_and_429_policy(client, hubspot) -> None:
    hubspot.set_limits(rate_limit=3, rate_window=10.0, retry_after=False)
    answers = [client.get(f"{CONTACTS}/404") for _ in range(4)]
    assert [a.status_code for a in answers] == [404, 404, 404, 429]
    assert [a.headers["x-hubspot-ratelimit-remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert answers[0].headers["x-hubspot-ratelimit-max"] == "3"
    assert answers[0].headers["x-hubspot-ratelimit-interval-milliseconds"] == "10000"
    assert answers[0].headers["x-hubspot-ratelimit-daily"] == "625000"
    throttled = answers[3]
    assert throttled.json()["policyName"] == "TEN_SECONDLY_ROLLING"
    assert throttled.json()["errorType"] == "RATE_LIMIT"
    assert "retry-after" not in throttled.headers
    hubspot.set_limits(rate_limit=1, retry_after=True)
    client.get(CONTACTS)
    assert client.get(CONTACTS).headers["retry-after"].isdigit()


def test_daily_budget_runs_out(client, hubspot) -> None:
    hubspot.daily_limit = 2
    assert client.get(CONTACTS).headers["x-hubspot-ratelimit-daily-remaining"] == "1"
    assert client.get(CONTACTS).status_code == 200
    over = client.get(CONTACTS)
    assert (over.status_code, over.json()["policyName"]) == (429, "DAILY")


# -- batch upsert ---------------------------------------------------------------------------
def test_upsert_creates_then_updates_by_lowercased_email(client, hubspot) -> None:
    created = upsert(client, item("Ada@CDP.test", firstname="Ada")).json()["results"][0]
    assert created["new"] is True and created["properties"]["email"] == "ada@cdp.test"
    again = upsert(client, item("ada@cdp.test", firstname="Ada", lastname="L")).json()
    assert again["results"][0]["new"] is False
    assert again["results"][0]["id"] == created["id"]
    assert hubspot.contact_emails() == ["ada@cdp.test"]
    upsert(client, item("ada@cdp.test", lastname=""))  # an empty string clears
    assert "lastname" not in hubspot.contact("ada@cdp.test")["properties"]


def test_upsert_batch_cap_duplicates_and_id_property(client, hubspot) -> None:
    too_many = upsert(client, *[item(f"p{n}@cdp.test") for n in range(101)])
    assert too_many.status_code == 400
    assert "maximum number of inputs supported in a batch is 100" in too_many.json()["message"]
    duplicate = upsert(client, item("a@cdp.test"), item("A@cdp.test"), item("b@cdp.test"))
    body = duplicate.json()
    assert duplicate.status_code == 400 and "Duplicate IDs" in body["message"]
    assert body["context"]["ids"] == ["a@cdp.test"]
    by_name = upsert(client, {"idProperty": "firstname", "id": "Ada", "properties": {}})
    assert "non-unique" in by_name.json()["message"]
    assert hubspot.contact_emails() == []


def test_one_bad_email_fails_the_whole_request_without_trace_ids(client, hubspot) -> None:
    response = upsert(client, item("ok@cdp.test"), item("bad@example.com"))
    body = response.json()
    assert (response.status_code, body["category"]) == (400, "VALIDATION_ERROR")
    assert "INVALID_EMAIL" in body["message"]
    assert hubspot.contact_emails() == []


def test_trace_ids_give_a_multi_status_with_per_input_errors(client, hubspot) -> None:
    response = upsert(client, item("ok@cdp.test", "t1"), item("bad@example.com", "t2"),
                      item("worse", "t3"), item("ro@cdp.test", "t4", hs_email_optout="true"))
    body = response.json()
    assert response.status_code == 207 and body["numErrors"] == 3
    traces = sorted(e["context"]["objectWriteTraceId"][0] for e in body["errors"])
    assert traces == ["t2", "t3", "t4"]
    assert {e["category"] for e in body["errors"]} == {"VALIDATION_ERROR"}
    assert "READ_ONLY_VALUE" in next(e["message"] for e in body["errors"]
                                     if e["context"]["objectWriteTraceId"] == ["t4"])
    assert [r["objectWriteTraceId"] for r in body["results"]] == ["t1"]
    assert hubspot.contact_emails() == ["ok@cdp.test"]


def test_results_come_back_shuffled(client) -> None:
    emails = [f"p{n}@cdp.test" for n in range(20)]
    results = upsert(client, *[item(e) for e in emails]).json()["results"]
    returned = [r["properties"]["email"] for r in results]
    assert sorted(returned) == sorted(emails) and returned != emails


# -- reads ----------------------------------------------------------------------------------
def test_batch_read_get_by_email_and_paging(client, hubspot) -> None:
    upsert(client, *[item(f"p{n}@cdp.test", firstname=f"P{n}") for n in range(5)])
    read = client.post(f"{CONTACTS}/batch/read", json={
        "idProperty": "email", "properties": ["firstname", "hs_email_optout"],
        "inputs": [{"id": "p1@cdp.test"}, {"id": "ghost@cdp.test"}]})
    body = read.json()
    assert read.status_code == 207 and body["errors"][0]["context"]["ids"] == ["ghost@cdp.test"]
    props = body["results"][0]["properties"]
    assert props["firstname"] == "P1" and props["hs_email_optout"] is None
    assert hubspot.requests(path="batch/read")[0].write is False  # a read, though a POST
    one = client.get(f"{CONTACTS}/P2@cdp.test", params={"idProperty": "email"})
    assert one.json()["properties"]["firstname"] == "P2"
    missing = client.get(f"{CONTACTS}/999")
    assert (missing.status_code, missing.json()["category"]) == (404, "OBJECT_NOT_FOUND")
    seen, after = [], None
    while True:
        page = client.get(CONTACTS, params={"limit": 2, **({"after": after} if after else {})})
        seen += [r["properties"]["email"] for r in page.json()["results"]]
        after = page.json().get("paging", {}).get("next", {}).get("after")
        if not after:
            break
    assert seen == [f"p{n}@cdp.test" for n in range(5)]
    assert client.get(CONTACTS, params={"limit": 101}).status_code == 400


# -- lists ------------------------------------------------------------------------------------
def test_lists_by_name_and_membership_by_record_id(client, hubspot) -> None:
    absent = client.get(f"{LISTS}/object-type-id/0-1/name/cdp%3A%20vip")
    assert absent.status_code == 404
    list_id = new_list(client)
    found = client.get(f"{LISTS}/object-type-id/0-1/name/CDP%3A%20VIP").json()["list"]
    assert found["listId"] == list_id and found["processingType"] == "MANUAL"
    assert client.get(f"{LISTS}/{list_id}").json()["list"]["name"] == "cdp: vip"
    assert client.get(f"{LISTS}/999").status_code == 404
    assert client.post(f"{LISTS}/", json={"name": "cdp: vip", "objectTypeId": "0-1",
                                          "processingType": "MANUAL"}).status_code == 400
    by_email = {r["properties"]["email"]: r["id"] for r in upsert(
        client, item("a@cdp.test"), item("b@cdp.test")).json()["results"]}
    ids = [by_email["a@cdp.test"], by_email["b@cdp.test"]]
    added = client.put(f"{LISTS}/{list_id}/memberships/add", json=[*ids, ids[0], "99999"])
    assert sorted(added.json()["recordsIdsAdded"]) == sorted(ids)  # HubSpot's spelling
    assert added.json()["recordIdsMissing"] == ["99999"]
    again = client.put(f"{LISTS}/{list_id}/memberships/add", json=ids).json()
    assert again["recordsIdsAdded"] == []
    assert client.put(f"{LISTS}/{list_id}/memberships/add",
                      json=["a@cdp.test"]).status_code == 400  # ids only, not emails
    removed = client.put(f"{LISTS}/{list_id}/memberships/remove", json=[ids[0]]).json()
    assert removed["recordIdsRemoved"] == [ids[0]]
    assert hubspot.list_members("cdp: vip") == {"b@cdp.test"}
    assert len(hubspot.contact_emails()) == 2  # leaving a list keeps the contact
    dynamic = new_list(client, "cdp: dynamic", "DYNAMIC")
    refused = client.put(f"{LISTS}/{dynamic}/memberships/add", json=ids)
    assert refused.status_code == 400 and "DYNAMIC" in refused.json()["message"]


def test_list_memberships_page_with_an_opaque_cursor(client, hubspot) -> None:
    list_id = new_list(client)
    ids = [r["id"] for r in upsert(client, *[item(f"p{n}@cdp.test") for n in range(7)]).json()[
        "results"]]
    client.put(f"{LISTS}/{list_id}/memberships/add", json=ids)
    seen, after, pages = [], None, 0
    while True:
        params = {"limit": 3, **({"after": after} if after else {})}
        body = client.get(f"{LISTS}/{list_id}/memberships", params=params).json()
        assert body["total"] == 7
        seen += [r["recordId"] for r in body["results"]]
        pages += 1
        after = body.get("paging", {}).get("next", {}).get("after")
        if not after:
            break
        assert not after.isdigit()
    assert pages == 3 and seen == sorted(ids, key=int)
    over = client.get(f"{LISTS}/{list_id}/memberships", params={"limit": 251})
    assert over.status_code == 400


# -- archive and GDPR delete --------------------------------------------------------------------
def test_archive_hides_and_gdpr_delete_blocklists(client, hubspot) -> None:
    list_id = new_list(client)
    ids = {r["properties"]["email"]: r["id"] for r in upsert(
        client, item("a@cdp.test"), item("b@cdp.test"), item("c@cdp.test")).json()["results"]}
    client.put(f"{LISTS}/{list_id}/memberships/add", json=list(ids.values()))
    assert client.delete(f"{CONTACTS}/{ids['a@cdp.test']}").status_code == 204
    assert client.get(f"{CONTACTS}/{ids['a@cdp.test']}").status_code == 404
    assert client.get(f"{CONTACTS}/{ids['a@cdp.test']}",
                      params={"archived": "true"}).json()["archived"] is True
    assert hubspot.list_members(list_id) == {"b@cdp.test", "c@cdp.test"}

    gone = client.post(f"{CONTACTS}/gdpr-delete", json={"objectId": ids["b@cdp.test"]})
    assert gone.status_code == 204
    assert hubspot.contact("b@cdp.test") is None and "b@cdp.test" in hubspot.gdpr_deleted()
    assert hubspot.list_members(list_id) == {"c@cdp.test"}
    twice = client.post(f"{CONTACTS}/gdpr-delete", json={"objectId": ids["b@cdp.test"]})
    assert twice.status_code == 404
    never = client.post(f"{CONTACTS}/gdpr-delete",
                        json={"objectId": "Never@cdp.test", "idProperty": "email"})
    assert never.status_code == 204 and "never@cdp.test" in hubspot.gdpr_deleted()
    back = upsert(client, item("b@cdp.test", "t1"), item("d@cdp.test", "t2")).json()
    assert "BLOCKLISTED_EMAIL" in back["errors"][0]["message"]
    assert hubspot.contact("b@cdp.test") is None


# -- errors and faults ----------------------------------------------------------------------------
def test_malformed_json_and_injected_faults(client, hubspot) -> None:
    bad = client.post(UPSERT, content=b"{nope", headers={"Content-Type": "application/json"})
    assert (bad.status_code, bad.json()["category"]) == (400, "VALIDATION_ERROR")
    hubspot.inject(fail_next=1, fail_statuses=(502,))
    gateway = client.get(CONTACTS)
    assert gateway.status_code == 502 and "html" in gateway.headers["content-type"]
    hubspot.inject(write_then_fail_next=1, fail_statuses=(500,))
    failed = upsert(client, item("a@cdp.test"))
    assert failed.status_code == 500 and failed.json()["category"] == "INTERNAL_ERROR"
    assert hubspot.contact("a@cdp.test") is not None  # written before the failure
    assert upsert(client, item("a@cdp.test")).json()["results"][0]["new"] is False


def test_opt_out_is_the_read_only_optout_property(client, hubspot) -> None:
    upsert(client, item("a@cdp.test"))
    hubspot.set_opted_out("a@cdp.test")
    read = client.post(f"{CONTACTS}/batch/read", json={
        "idProperty": "email", "properties": ["hs_email_optout"], "inputs": [{"id": "a@cdp.test"}]})
    assert read.json()["results"][0]["properties"]["hs_email_optout"] == "true"


def test_default_limits_are_the_professional_tier() -> None:
    fake = HubspotFake()
    assert (fake.limits.rate_limit, fake.limits.rate_window) == (190, 10.0)
    assert fake.daily_limit == 625_000 and isinstance(fake.limits, Limits)
