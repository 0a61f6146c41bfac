"""Salesforce fake: the vendor rules the connector doc lists (sections 3 and 5.4)."""

import concurrent.futures
import csv
import io
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.fakes.base import Limits
from tests.fakes.salesforce import SalesforceFake, id18, jwt_unsigned

V = "/services/data/v62.0"


@pytest.fixture
def fake() -> Iterator[SalesforceFake]:
    with SalesforceFake(query_page_size=2) as server:
        yield server
        assert server.errors == []


def token(fake: SalesforceFake, **form: str) -> httpx.Response:
    data = {"grant_type": "refresh_token", "client_id": fake.client_id,
            "client_secret": fake.client_secret, "refresh_token": fake.refresh_token, **form}
    return httpx.post(fake.token_url, data=data, timeout=5)


@pytest.fixture
def sf(fake: SalesforceFake) -> Iterator[httpx.Client]:
    body = token(fake).json()
    with httpx.Client(base_url=body["instance_url"] + V, timeout=5,
                      headers={"Authorization": f"Bearer {body['access_token']}"}) as client:
        yield client


def contact(ext: str, email: str = "", last: str = "Morvan", **fields: object) -> dict:
    record = {"attributes": {"type": "Contact"}, "CDP_Id__c": ext, "LastName": last, **fields}
    if email:
        record["Email"] = email
    return record


def upsert(sf: httpx.Client, *records: dict, all_or_none: bool = False) -> httpx.Response:
    return sf.patch("/composite/sobjects/Contact/CDP_Id__c",
                    json={"allOrNone": all_or_none, "records": list(records)})


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


# -- auth --------------------------------------------------------------------------------
def test_refresh_grant_gives_a_session_on_the_instance_without_expiry(fake) -> None:
    body = token(fake).json()
    assert body["instance_url"] == fake.url and body["token_type"] == "Bearer"
    assert "expires_in" not in body and "refresh_token" not in body
    assert {"id", "issued_at", "signature", "scope"} <= set(body)
    assert token(fake, client_secret="wrong").json()["error"] == "invalid_client"
    assert token(fake, grant_type="password").json()["error"] == "unsupported_grant_type"
    fake.revoke_refresh_token()
    refused = token(fake)
    assert refused.status_code == 400
    assert refused.json() == {"error": "invalid_grant",
                              "error_description": "expired access/refresh token"}


def test_rotation_replaces_the_refresh_token() -> None:
    with SalesforceFake(rotate_refresh_tokens=True) as fake:
        first = fake.refresh_token
        rotated = token(fake, refresh_token=first).json()["refresh_token"]
        assert rotated != first and token(fake, refresh_token=first).status_code == 400
        assert token(fake, refresh_token=rotated).status_code == 200


def test_jwt_bearer_grant_checks_issuer_subject_and_expiry(fake) -> None:
    claims = {"iss": fake.client_id, "sub": "integration@cdp.test", "aud": fake.url,
              "exp": int(time.time()) + 60}
    grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    ok = httpx.post(fake.token_url, data={"grant_type": grant,
                                          "assertion": jwt_unsigned(claims)})
    assert ok.status_code == 200 and ok.json()["instance_url"] == fake.url
    stale = jwt_unsigned({**claims, "exp": int(time.time()) - 1})
    late = httpx.post(fake.token_url, data={"grant_type": grant, "assertion": stale})
    assert late.json()["error"] == "invalid_grant"


def test_an_invalid_session_is_401_invalid_session_id(fake, sf) -> None:
    expected = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    assert httpx.get(f"{fake.url}{V}/limits").json() == expected
    assert sf.get("/limits").status_code == 200
    fake.invalidate_sessions()
    refused = sf.get("/limits")
    assert refused.status_code == 401 and refused.json() == expected
    fake.inject(auth_expired_next=1)
    assert httpx.get(f"{fake.url}{V}/limits").status_code == 401


def test_token_calls_are_not_writes_in_the_log(fake, sf) -> None:
    upsert(sf, contact("p1"))
    assert [r.path for r in fake.requests(write=True)] == [
        f"{V}/composite/sobjects/Contact/CDP_Id__c"]


# -- limits ------------------------------------------------------------------------------
def test_every_answer_reports_usage_and_limits_agree(fake, sf) -> None:
    fake.set_api_usage(used=10, max=13)
    first = sf.get("/limits")
    assert first.headers["Sforce-Limit-Info"] == "api-usage=11/13"
    assert first.json()["DailyApiRequests"] == {"Max": 13, "Remaining": 2}
    assert sf.get("/sobjects/Contact/003000000000000").headers["Sforce-Limit-Info"] == \
        "api-usage=12/13"
    sf.get("/limits")
    spent = sf.get("/limits")
    assert spent.status_code == 403 and "Retry-After" not in spent.headers
    assert spent.json() == [{"message": "TotalRequests Limit exceeded.",
                             "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    fake.reset_budget()
    assert sf.get("/limits").status_code == 200


def test_throttling_is_a_403_concurrent_limit_without_retry_after(fake, sf) -> None:
    fake.set_limits(rate_limit=1, rate_window=5.0, retry_after=True)
    sf.get("/limits")
    throttled = sf.get("/limits")
    assert throttled.status_code == 403 and "Retry-After" not in throttled.headers
    assert throttled.json()[0] == {"message": "ConcurrentPerOrgLongTxn Limit exceeded.",
                                   "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    assert fake.requests(status=403)[0].fault == "rate_limit"


def test_5xx_shapes(fake, sf) -> None:
    fake.inject(fail_next=1, fail_statuses=(503,))
    assert sf.get("/limits").json()[0]["errorCode"] == "SERVER_UNAVAILABLE"
    fake.inject(fail_next=1, fail_statuses=(502,))
    assert sf.get("/limits").headers["content-type"] == "text/html"


# -- ids and collections -----------------------------------------------------------------
def test_ids_are_18_character_case_safe_and_deterministic(fake, sf) -> None:
    assert id18("001D000000IqhSL") == "001D000000IqhSLIAZ"  # Salesforce's documented example
    first = upsert(sf, contact("p1")).json()[0]["id"]
    assert len(first) == 18 and first.startswith("003") and first == id18(first[:15])
    with SalesforceFake() as other:
        body = token(other).json()
        again = httpx.patch(f"{other.url}{V}/composite/sobjects/Contact/CDP_Id__c",
                            headers={"Authorization": f"Bearer {body['access_token']}"},
                            json={"records": [contact("zz")]})
        assert again.json()[0]["id"] == first


def test_collection_upsert_is_partial_in_order_and_idempotent(fake, sf) -> None:
    answer = upsert(sf, contact("p1", "ada@cdp.test"), contact("p2", "bad@"),
                    contact("p3", "c@cdp.test", last=""), contact("p4", "d@example.com"),
                    contact("p5", "e@cdp.test"))
    assert answer.status_code == 200
    results = answer.json()
    assert [r["success"] for r in results] == [True, False, False, False, True]
    assert results[0]["created"] is True and results[0]["errors"] == []
    assert results[1] == {"success": False, "created": False, "errors": [{
        "statusCode": "INVALID_EMAIL_ADDRESS", "message": "Email: invalid email address: bad@",
        "fields": ["Email"]}]}
    assert results[2]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert results[2]["errors"][0]["fields"] == ["LastName"]
    assert results[3]["errors"][0]["statusCode"] == "INVALID_EMAIL_ADDRESS"  # rejected domain
    again = upsert(sf, contact("p1", "ada@cdp.test", FirstName="Ada")).json()[0]
    assert again["created"] is False and again["id"] == results[0]["id"]
    assert len(fake.contacts()) == 2 and fake.contact("ada@cdp.test")["FirstName"] == "Ada"


def test_collection_limits_and_malformed_requests(fake, sf) -> None:
    too_many = upsert(sf, *(contact(f"p{n}") for n in range(201)))
    assert too_many.status_code == 400
    assert too_many.json()[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    unknown = upsert(sf, contact("p1", Shoe_Size__c=42))
    assert unknown.status_code == 400 and unknown.json()[0]["errorCode"] == "INVALID_FIELD"
    bad = sf.patch("/composite/sobjects/Contact/CDP_Id__c", content=b"{nope",
                   headers={"Content-Type": "application/json"})
    assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    not_a_key = sf.patch("/composite/sobjects/Contact/LastName", json={"records": []})
    assert not_a_key.json()[0]["errorCode"] == "INVALID_FIELD"
    old = sf.patch("/services/data/v45.0/composite/sobjects/Contact/CDP_Id__c",
                   json={"records": [contact("p1")]})
    assert old.status_code == 404 and fake.contacts() == []


def test_all_or_none_rolls_everything_back(fake, sf) -> None:
    results = upsert(sf, contact("p1", "a@cdp.test"), contact("p2", "bad@"),
                     all_or_none=True).json()
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[1]["errors"][0]["statusCode"] == "INVALID_EMAIL_ADDRESS"
    assert fake.contacts() == []


def test_single_upsert_created_flag_and_300_on_an_ambiguous_email(fake, sf) -> None:
    created = sf.patch("/sobjects/Contact/CDP_Id__c/p1", json={"LastName": "A"})
    assert created.status_code == 201 and created.json()["created"] is True
    updated = sf.patch("/sobjects/Contact/CDP_Id__c/p1", json={"LastName": "B"})
    assert updated.status_code == 200 and updated.json()["created"] is False
    upsert(sf, contact("p2", "twin@cdp.test"), contact("p3", "Twin@cdp.test"))
    ambiguous = sf.patch("/sobjects/Contact/Email/twin@cdp.test", json={"LastName": "C"})
    assert ambiguous.status_code == 300 and len(ambiguous.json()) == 2
    assert sf.get("/sobjects/Contact/CDP_Id__c/p1").json()["LastName"] == "B"


def test_unique_external_id_clash_is_duplicate_value(fake, sf) -> None:
    upsert(sf, contact("p1"))
    other = sf.post("/sobjects/Contact", json={"LastName": "X", "CDP_Id__c": "p1"})
    assert other.status_code == 400 and other.json()[0]["errorCode"] == "DUPLICATE_VALUE"


# -- campaign membership and delete --------------------------------------------------------
def test_campaign_members_duplicates_statuses_and_delete(fake, sf) -> None:
    campaign = fake.campaign_id("CDP: Brest")
    ids = [r["id"] for r in upsert(sf, contact("p1", "a@cdp.test"),
                                   contact("p2", "b@cdp.test")).json()]

    def member(person: str, **extra: str) -> dict:
        return {"attributes": {"type": "CampaignMember"}, "CampaignId": campaign,
                "ContactId": person, **extra}

    added = sf.post("/composite/sobjects", json={"allOrNone": False, "records": [
        member(ids[0]), member(ids[1], Status="Responded"), member(ids[0]),
        member(ids[1], Status="Bogus")]}).json()
    assert [r["success"] for r in added] == [True, True, False, False]
    assert added[2]["errors"][0] == {"statusCode": "DUPLICATE_VALUE",
                                     "message": "Already a campaign member.", "fields": []}
    assert added[3]["errors"][0]["statusCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert fake.campaign_emails(campaign) == {"a@cdp.test", "b@cdp.test"}
    gone = sf.delete("/composite/sobjects",
                     params={"ids": f"{added[0]['id']},{ids[1]}x", "allOrNone": "false"}).json()
    assert gone[0] == {"id": added[0]["id"], "success": True, "errors": []}
    assert gone[1]["errors"][0]["statusCode"] == "MALFORMED_ID"
    assert fake.campaign_emails(campaign) == {"b@cdp.test"}


def test_deleting_a_contact_goes_to_the_recycle_bin_with_its_memberships(fake, sf) -> None:
    campaign = fake.campaign_id("CDP: Brest")
    person = upsert(sf, contact("p1", "a@cdp.test")).json()[0]["id"]
    fake.add_to_campaign(campaign, person)
    assert sf.delete(f"/sobjects/Contact/{person}").status_code == 204
    again = sf.delete(f"/sobjects/Contact/{person}")
    assert again.status_code == 404 and again.json()[0]["errorCode"] == "ENTITY_IS_DELETED"
    assert fake.campaign_emails(campaign) == set() and fake.contacts() == []
    assert [c["Email"] for c in fake.recycle_bin()] == ["a@cdp.test"]
    soql = "SELECT Id, IsDeleted FROM Contact"
    assert sf.get("/query", params={"q": soql}).json()["totalSize"] == 0
    assert sf.get("/queryAll", params={"q": soql}).json()["records"][0]["IsDeleted"] is True
    assert sf.get("/sobjects/Contact/CDP_Id__c/p1").status_code == 404


# -- SOQL ----------------------------------------------------------------------------------
def test_soql_pages_with_next_records_url_and_nests_parents(fake, sf) -> None:
    campaign = fake.campaign_id("CDP: Brest")
    for answer in upsert(sf, *(contact(f"p{n}", f"p{n}@cdp.test") for n in range(5))).json():
        fake.add_to_campaign(campaign, answer["id"])
    fields = "Id, Contact.Email, Contact.CDP_Id__c"
    soql = f"SELECT {fields} FROM CampaignMember WHERE CampaignId = '{campaign}'"  # noqa: S608
    soql += " ORDER BY Contact.Email"
    page = sf.get("/query", params={"q": soql}).json()
    seen = []
    while True:
        seen += [r["Contact"]["Email"] for r in page["records"]]
        if page["done"]:
            break
        assert len(page["records"]) == 2 and page["totalSize"] == 5
        page = httpx.get(fake.url + page["nextRecordsUrl"], headers=sf.headers).json()
    assert seen == [f"p{n}@cdp.test" for n in range(5)]
    first = sf.get("/query", params={"q": soql}).json()["records"][0]
    assert first["attributes"]["type"] == "CampaignMember"
    assert first["Contact"]["attributes"]["type"] == "Contact"
    count = sf.get("/query", params={"q": "SELECT COUNT() FROM Contact WHERE CDP_Id__c "
                                           "IN ('p1', 'P2', 'p9')"}).json()
    assert count["totalSize"] == 2  # SOQL compares strings without case


def test_soql_refusals(fake, sf) -> None:
    def code(q: str) -> str:
        return sf.get("/query", params={"q": q}).json()[0]["errorCode"]

    assert code("SELECT Id FROM Contact WHERE") == "MALFORMED_QUERY"
    assert code("SELECT Id FROM Contact WHERE LastName LIKE 'A%'") == "MALFORMED_QUERY"
    assert code("SELECT Nope FROM Contact") == "INVALID_FIELD"
    assert code("SELECT Id FROM Widget") == "INVALID_TYPE"
    assert sf.get("/query/01g000000000000-2").json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


def test_batch_size_header_asks_for_smaller_pages() -> None:
    with SalesforceFake() as fake:
        body = token(fake).json()
        client = httpx.Client(base_url=fake.url + V, headers={
            "Authorization": f"Bearer {body['access_token']}",
            "Sforce-Query-Options": "batchSize=200"})
        for start in range(0, 450, 150):
            upsert(client, *(contact(f"p{n}") for n in range(start, start + 150)))
        page = client.get("/query", params={"q": "SELECT Id FROM Contact"}).json()
        assert len(page["records"]) == 200 and page["totalSize"] == 450 and not page["done"]


# -- composite -----------------------------------------------------------------------------
def test_composite_substitutes_references_and_rolls_back(fake, sf) -> None:
    campaign = fake.campaign_id("CDP: Brest")
    sub = [{"method": "PATCH", "url": f"{V}/sobjects/Contact/CDP_Id__c/p1",
            "referenceId": "c1", "body": {"LastName": "A", "Email": "a@cdp.test"}},
           {"method": "POST", "url": f"{V}/sobjects/CampaignMember", "referenceId": "m1",
            "body": {"CampaignId": campaign, "ContactId": "@{c1.id}"}}]
    out = sf.post("/composite", json={"allOrNone": True, "compositeRequest": sub}).json()
    assert [r["httpStatusCode"] for r in out["compositeResponse"]] == [201, 201]
    assert fake.campaign_emails(campaign) == {"a@cdp.test"}
    sub[0]["url"] = f"{V}/sobjects/Contact/CDP_Id__c/p2"
    sub[1]["body"]["ContactId"] = "003000000000000AAA"
    failed = sf.post("/composite", json={"allOrNone": True, "compositeRequest": sub}).json()
    codes = [r["httpStatusCode"] for r in failed["compositeResponse"]]
    assert codes == [400, 400] and fake.contact(external_id="p2") is None
    many = [{**sub[0], "referenceId": f"r{n}"} for n in range(26)]
    assert sf.post("/composite", json={"compositeRequest": many}).status_code == 400


# -- Bulk API 2.0 --------------------------------------------------------------------------
def bulk_job(sf: httpx.Client, data: bytes, **spec: str) -> str:
    job = sf.post("/jobs/ingest", json={"object": "Contact", "lineEnding": "LF", **spec})
    assert job.status_code == 200 and job.json()["state"] == "Open"
    job_id = job.json()["id"]
    upload = sf.put(f"/jobs/ingest/{job_id}/batches", content=data,
                    headers={"Content-Type": "text/csv"})
    assert upload.status_code == 201
    closed = sf.patch(f"/jobs/ingest/{job_id}", json={"state": "UploadComplete"})
    assert closed.json()["state"] == "UploadComplete"
    return job_id


def test_bulk_upsert_job_lifecycle_and_results(fake, sf) -> None:
    upsert(sf, contact("p1", "old@cdp.test", FirstName="Old"))
    data = b"CDP_Id__c,Email,FirstName,LastName\np1,,New,\np2,b@cdp.test,,B\np3,bad@,,C\n"
    job_id = bulk_job(sf, data, operation="upsert", externalIdFieldName="CDP_Id__c")
    again = sf.put(f"/jobs/ingest/{job_id}/batches", content=data,
                   headers={"Content-Type": "text/csv"})
    assert again.json()[0]["errorCode"] == "INVALIDJOBSTATE"
    states = [sf.get(f"/jobs/ingest/{job_id}").json()["state"] for _ in range(3)]
    assert states == ["InProgress", "JobComplete", "JobComplete"]
    info = sf.get(f"/jobs/ingest/{job_id}").json()
    assert (info["numberRecordsProcessed"], info["numberRecordsFailed"]) == (3, 1)
    done = rows(sf.get(f"/jobs/ingest/{job_id}/successfulResults").text)
    assert [(r["CDP_Id__c"], r["sf__Created"]) for r in done] == [("p1", "false"),
                                                                   ("p2", "true")]
    failed = rows(sf.get(f"/jobs/ingest/{job_id}/failedResults").text)
    assert failed[0]["sf__Error"] == ("INVALID_EMAIL_ADDRESS:Email: invalid email address: "
                                      "bad@:Email --")
    kept = fake.contact(external_id="p1")  # an empty cell leaves the field as it was
    assert (kept["Email"], kept["FirstName"]) == ("old@cdp.test", "New")


def test_bulk_job_failures_and_hard_delete(fake, sf) -> None:
    job_id = bulk_job(sf, b"CDP_Id__c,Shoe__c\np1,42\n", operation="upsert",
                      externalIdFieldName="CDP_Id__c")
    sf.get(f"/jobs/ingest/{job_id}")
    info = sf.get(f"/jobs/ingest/{job_id}").json()
    assert info["state"] == "Failed" and "Shoe__c" in info["errorMessage"]
    crlf = bulk_job(sf, b"CDP_Id__c,LastName\r\np1,A\r\n", operation="upsert",
                    externalIdFieldName="CDP_Id__c")
    sf.get(f"/jobs/ingest/{crlf}")
    assert "LineEnding" in sf.get(f"/jobs/ingest/{crlf}").json()["errorMessage"]
    person = upsert(sf, contact("p1")).json()[0]["id"]
    gone = bulk_job(sf, f"Id\n{person}\n".encode(), operation="hardDelete")
    sf.get(f"/jobs/ingest/{gone}"), sf.get(f"/jobs/ingest/{gone}")
    assert fake.contacts(include_deleted=True) == []
    with SalesforceFake(bulk_upload_limit=10) as small:
        body = token(small).json()
        client = httpx.Client(base_url=small.url + V,
                              headers={"Authorization": f"Bearer {body['access_token']}"})
        job = client.post("/jobs/ingest", json={"object": "Contact", "operation": "insert"})
        big = client.put(f"/jobs/ingest/{job.json()['id']}/batches", content=b"LastName\n" * 3,
                         headers={"Content-Type": "text/csv"})
        assert big.status_code == 400


def test_write_then_fail_applies_the_write_once(fake, sf) -> None:
    fake.inject(write_then_fail_next=1, fail_statuses=(500,))
    assert upsert(sf, contact("p1")).status_code == 500
    assert upsert(sf, contact("p1")).json()[0]["created"] is False
    assert len(fake.contacts()) == 1


def test_calls_over_the_in_flight_cap_are_throttled() -> None:
    with SalesforceFake(limits=Limits(max_concurrent=1, service_time=0.2)) as fake:
        body = token(fake).json()
        headers = {"Authorization": f"Bearer {body['access_token']}"}
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(lambda _: httpx.get(f"{fake.url}{V}/limits",
                                                        headers=headers), range(2)))
        assert sorted(a.status_code for a in answers) == [200, 403]


def test_a_key_field_that_does_not_exist_is_404(fake, sf) -> None:
    missing = sf.get("/sobjects/Lead/Nope__c/p1")
    assert missing.status_code == 404 and missing.json()[0]["errorCode"] == "NOT_FOUND"
    assert sf.patch("/sobjects/Contact/LastName/x", json={}).status_code == 400


def test_a_bulk_job_can_take_time_to_process() -> None:
    with SalesforceFake(bulk_seconds_per_record=0.1) as fake:
        body = token(fake).json()
        client = httpx.Client(base_url=fake.url + V,
                              headers={"Authorization": f"Bearer {body['access_token']}"})
        job_id = bulk_job(client, b"LastName\nA\nB\n", operation="insert")
        states = [client.get(f"/jobs/ingest/{job_id}").json()["state"] for _ in range(3)]
        assert states == ["InProgress"] * 3
        time.sleep(0.25)
        assert client.get(f"/jobs/ingest/{job_id}").json()["state"] == "JobComplete"
