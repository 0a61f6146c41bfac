"""The fakes over real HTTP: auth, limits, per-item errors, idempotency, paging and faults.

`EchoFake` is the smallest vendor: it exercises the shared machinery of `base.py` without
any vendor rule in the way.
"""

import threading
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from tests.fakes.base import FakeServer, Faults, Limits, Request, Response, json_response
from tests.fakes.mailchimp import MailchimpFake, mailchimp_limits, subscriber_hash

LIST = "a1b2c3d4e5"


class EchoFake(FakeServer):
    """Counts the items POSTed to it; GET returns them."""

    def __init__(self, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.items: list[object] = []
        self.add_route("GET", r"/items", lambda r: json_response(200, self.items))
        self.add_route("POST", r"/items", self._add)

    def _add(self, request: Request) -> Response:
        self.items.append(request.json())
        return json_response(201, {"count": len(self.items)})

    def reset_state(self) -> None:
        self.items = []


@pytest.fixture
def echo() -> Iterator[EchoFake]:
    with EchoFake(seed=7) as fake:
        yield fake
        assert fake.errors == []


def member(email: str, **fields: object) -> dict[str, object]:
    return {"email_address": email, "status_if_new": "subscribed", **fields}


# -- auth ---------------------------------------------------------------------------------
def test_mailchimp_refuses_missing_or_wrong_key_with_401(mailchimp_fake: MailchimpFake) -> None:
    url = f"{mailchimp_fake.base_url}/lists/{LIST}/members"
    missing = httpx.get(url)
    wrong = httpx.get(url, auth=("cdp", "ffffffffffffffffffffffffffffffff-us19"))
    assert (missing.status_code, missing.json()["title"]) == (401, "API Key Missing")
    assert (wrong.status_code, wrong.json()["title"]) == (401, "API Key Invalid")
    assert wrong.headers["content-type"] == "application/problem+json"
    assert wrong.headers["x-request-id"] == wrong.json()["instance"]
    assert mailchimp_fake.members() == {}


def test_mailchimp_refuses_other_datacenter_with_403(mailchimp_fake: MailchimpFake) -> None:
    response = httpx.get(f"{mailchimp_fake.url}/us1/3.0/ping", auth=("x", mailchimp_fake.api_key))
    assert (response.status_code, response.json()["title"]) == (403, "Wrong Datacenter")


def test_auth_expired_switch_refuses_the_next_calls_only(echo: EchoFake) -> None:
    echo.inject(auth_expired_next=2)
    statuses = [httpx.get(f"{echo.url}/items").status_code for _ in range(3)]
    assert statuses == [401, 401, 200]


# -- limits -------------------------------------------------------------------------------
def test_mailchimp_batch_over_500_members_is_refused_whole(
    mailchimp_fake: MailchimpFake, mailchimp_client: httpx.Client
) -> None:
    body = {"members": [member(f"m{i}@cdp.test") for i in range(501)]}
    response = mailchimp_client.post(f"/lists/{LIST}", json=body)
    assert response.status_code == 400
    assert response.json()["title"] == "Invalid Resource"
    assert mailchimp_fake.members() == {}
    body["members"].pop()
    assert mailchimp_client.post(f"/lists/{LIST}", json=body).json()["total_created"] == 500


def test_rate_limit_answers_429_with_retry_after_then_admits_again() -> None:
    with EchoFake(limits=Limits(rate_limit=3, rate_window=0.5)) as fake:
        statuses = [httpx.get(f"{fake.url}/items") for _ in range(4)]
        assert [r.status_code for r in statuses] == [200, 200, 200, 429]
        assert statuses[-1].headers["retry-after"] == "1"
        time.sleep(0.55)
        assert httpx.get(f"{fake.url}/items").status_code == 200
        assert [r.fault for r in fake.requests(status=429)] == ["rate_limit"]


def test_rate_limit_can_omit_retry_after_like_mailchimp() -> None:
    with EchoFake(limits=Limits(rate_limit=1, rate_window=5, retry_after=False)) as fake:
        httpx.get(f"{fake.url}/items")
        throttled = httpx.get(f"{fake.url}/items")
        assert throttled.status_code == 429
        assert "retry-after" not in throttled.headers


def test_mailchimp_eleventh_concurrent_call_gets_429() -> None:
    with MailchimpFake(limits=mailchimp_limits(service_time=0.6)) as fake:
        barrier = threading.Barrier(12)
        results: list[httpx.Response] = []

        def call() -> None:
            with httpx.Client(auth=("x", fake.api_key), timeout=5) as client:
                barrier.wait()
                results.append(client.get(f"{fake.base_url}/ping"))

        threads = [threading.Thread(target=call) for _ in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert Counter(r.status_code for r in results) == {200: 10, 429: 2}
        throttled = next(r for r in results if r.status_code == 429)
        assert throttled.json()["title"] == "Too Many Requests"
        assert "retry-after" not in throttled.headers
        assert fake.peak_in_flight >= 11  # the two refused calls are answered at once
        assert len(fake.requests(path="/ping", status=200)) == 10


def test_fixed_service_time_is_spent_on_each_call() -> None:
    with EchoFake(limits=Limits(service_time=0.05)) as fake, httpx.Client() as client:
        started = time.perf_counter()
        for _ in range(4):
            client.get(f"{fake.url}/items")
        elapsed = time.perf_counter() - started
    assert 0.2 <= elapsed < 0.6


# -- vendor semantics ---------------------------------------------------------------------
def test_mailchimp_invalid_email_is_a_per_item_error(
    mailchimp_fake: MailchimpFake, mailchimp_client: httpx.Client
) -> None:
    body = {
        "members": [member("ada@cdp.test"), member("bob@example.com"), member("not-an-email")],
        "update_existing": True,
    }
    response = mailchimp_client.post(f"/lists/{LIST}", json=body)
    assert response.status_code == 200
    payload = response.json()
    assert (payload["total_created"], payload["error_count"]) == (1, 2)
    errors = {e["email_address"]: e for e in payload["errors"]}
    assert "looks fake or invalid" in errors["bob@example.com"]["error"]
    assert errors["not-an-email"]["error_code"] == "ERROR_GENERIC"
    assert set(mailchimp_fake.members()) == {"ada@cdp.test"}


def test_mailchimp_upsert_is_idempotent(
    mailchimp_fake: MailchimpFake, mailchimp_client: httpx.Client
) -> None:
    body = {"members": [member("ada@cdp.test", merge_fields={"FNAME": "Ada"})]}
    body["update_existing"] = True
    first = mailchimp_client.post(f"/lists/{LIST}", json=body).json()
    state = mailchimp_fake.state()
    second = mailchimp_client.post(f"/lists/{LIST}", json=body).json()
    path = f"/lists/{LIST}/members/{subscriber_hash('ADA@cdp.test')}"
    put = mailchimp_client.put(path, json=member("ada@cdp.test"))
    assert (first["total_created"], second["total_created"], second["total_updated"]) == (1, 0, 1)
    assert put.status_code == 200
    assert put.json()["id"] == subscriber_hash("ada@cdp.test")
    assert mailchimp_fake.state() == state
    assert len(mailchimp_fake.requests(write=True)) == 3


def test_mailchimp_members_page_by_count_and_offset(
    mailchimp_fake: MailchimpFake, mailchimp_client: httpx.Client
) -> None:
    for i in range(25):
        mailchimp_fake.seed_member(f"m{i:02}@cdp.test")
    seen, offset = [], 0
    while True:
        page = mailchimp_client.get(
            f"/lists/{LIST}/members", params={"count": 10, "offset": offset}
        ).json()
        assert page["total_items"] == 25
        seen += [m["email_address"] for m in page["members"]]
        offset += 10
        if offset >= page["total_items"]:
            break
    assert seen == [f"m{i:02}@cdp.test" for i in range(25)]
    default = mailchimp_client.get(f"/lists/{LIST}/members").json()
    too_big = mailchimp_client.get(f"/lists/{LIST}/members", params={"count": 1001})
    assert len(default["members"]) == 10
    assert too_big.status_code == 400


# -- injected faults ----------------------------------------------------------------------
def test_fail_rate_gives_roughly_that_share_of_5xx_reproducibly() -> None:
    def run() -> list[int]:
        faults = Faults(fail_rate=0.3)
        with EchoFake(faults=faults, seed=42) as fake, httpx.Client() as client:
            return [client.get(f"{fake.url}/items").status_code for _ in range(200)]

    first = run()
    failures = [s for s in first if s >= 500]
    assert 40 <= len(failures) <= 80
    assert set(failures) <= {500, 502, 503, 504}
    assert run() == first


def test_fail_next_then_success(echo: EchoFake) -> None:
    echo.inject(fail_next=2, fail_statuses=(503,))
    with httpx.Client() as client:
        statuses = [client.post(f"{echo.url}/items", json={}).status_code for _ in range(3)]
    assert statuses == [503, 503, 201]
    assert echo.items == [{}]
    assert [r.fault for r in echo.requests(write=True)] == ["5xx", "5xx", None]


def test_mailchimp_gateway_errors_are_html(mailchimp_fake: MailchimpFake) -> None:
    mailchimp_fake.inject(fail_next=1, fail_statuses=(502,))
    response = httpx.get(f"{mailchimp_fake.base_url}/ping", auth=("x", mailchimp_fake.api_key))
    assert response.status_code == 502
    assert response.headers["content-type"] == "text/html"


def test_dropped_connection_raises_a_transport_error(echo: EchoFake) -> None:
    echo.inject(drop_next=1)
    with httpx.Client() as client:
        with pytest.raises(httpx.TransportError):
            client.post(f"{echo.url}/items", json={"n": 1})
        assert client.get(f"{echo.url}/items").json() == []
    assert [r.status for r in echo.requests()] == [None, 200]
    assert echo.requests()[0].fault == "drop"


def test_slow_response_outlives_the_client_timeout(echo: EchoFake) -> None:
    echo.inject(slow_next=1, slow_delay=2.0)
    started = time.perf_counter()
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{echo.url}/items", json={"n": 1}, timeout=0.2)
    assert time.perf_counter() - started < 1.0
    assert echo.items == [{"n": 1}]  # the write landed; only its answer was late


def test_write_then_fail_applies_the_write_before_answering_5xx(
    mailchimp_fake: MailchimpFake, mailchimp_client: httpx.Client
) -> None:
    mailchimp_fake.inject(write_then_fail_next=1, fail_statuses=(500,))
    body = {"members": [member("ada@cdp.test")], "update_existing": True}
    failed = mailchimp_client.post(f"/lists/{LIST}", json=body)
    retried = mailchimp_client.post(f"/lists/{LIST}", json=body)
    assert failed.status_code == 500
    assert retried.json()["total_updated"] == 1
    assert list(mailchimp_fake.members()) == ["ada@cdp.test"]


def test_write_then_drop_applies_the_write_and_closes_the_connection(echo: EchoFake) -> None:
    echo.inject(write_then_fail_next=1, write_then_drop=True)
    with httpx.Client() as client, pytest.raises(httpx.TransportError):
        client.post(f"{echo.url}/items", json={"n": 1})
    assert echo.items == [{"n": 1}]
    assert echo.requests()[0].fault == "write_then_fail"


def test_faults_can_target_matching_requests_only(echo: EchoFake) -> None:
    echo.inject(fail_rate=1.0, match=lambda r: r.method == "POST")
    with httpx.Client() as client:
        assert client.get(f"{echo.url}/items").status_code == 200
        assert client.post(f"{echo.url}/items", json={}).status_code >= 500


def test_request_log_redacts_credentials_and_counts_writes(
    mailchimp_fake: MailchimpFake, mailchimp_client: httpx.Client
) -> None:
    mailchimp_client.get("/ping")
    mailchimp_client.post(f"/lists/{LIST}", json={"members": [member("ada@cdp.test")]})
    writes = mailchimp_fake.requests(write=True)
    assert [(r.method, r.status) for r in writes] == [("POST", 200)]
    assert len(writes[0].json()["members"]) == 1
    assert all(r.headers["authorization"] == "<redacted>" for r in mailchimp_fake.requests())


def test_reset_forgets_state_log_and_faults(echo: EchoFake) -> None:
    echo.inject(fail_rate=1.0)
    httpx.get(f"{echo.url}/items")
    echo.reset()
    assert httpx.get(f"{echo.url}/items").status_code == 200
    assert len(echo.requests()) == 1


def test_stop_does_not_wait_for_idle_keep_alive_connections() -> None:
    fake = EchoFake().start()
    url = f"{fake.url}/items"
    client = httpx.Client()
    client.get(url)
    started = time.perf_counter()
    fake.stop()
    assert time.perf_counter() - started < 1.0
    with pytest.raises(httpx.TransportError):
        client.get(url)
    client.close()
