"""The vendor client's manners, against a live fake: pacing, Retry-After, backoff bounds."""

import time

import httpx
import pytest
from django.test import override_settings

from connectors.http import (
    CallStats,
    Pacing,
    TokenBucket,
    VendorAuthError,
    VendorClient,
    VendorUnavailable,
)
from tests.fakes.base import Limits
from tests.fakes.mailchimp import MailchimpFake


def _client(fake: MailchimpFake, **pacing) -> VendorClient:
    options = {"rate_per_s": None, "concurrency": 2, "timeout_s": 0.5, "max_retries": 3,
               "backoff_base_s": 0.01, "backoff_cap_s": 0.05, **pacing}
    return VendorClient(base_url=fake.base_url, auth=("x", fake.api_key),
                        pacing=Pacing(**options), stats=CallStats())


def test_retry_after_is_honoured():
    with MailchimpFake(limits=Limits(rate_limit=1, rate_window=1.0, retry_after=True)) as fake:
        client = _client(fake, backoff_base_s=0.001, backoff_cap_s=5)
        started = time.monotonic()
        for _ in range(2):
            assert client.request("GET", "/ping", write=False).status_code == 200
        assert time.monotonic() - started >= 0.9  # waited what Retry-After said
        assert client.stats.retries == 1


def test_timeouts_and_dropped_connections_are_retried_then_given_up():
    with MailchimpFake() as fake:
        client = _client(fake)
        fake.inject(drop_next=1)
        assert client.request("GET", "/ping", write=False).status_code == 200
        fake.inject(slow_next=1, slow_delay=1.0)  # past the 0.5 s client timeout
        assert client.request("GET", "/ping", write=False).status_code == 200
        assert client.stats.retries == 2
        fake.inject(fail_rate=1.0)
        with pytest.raises(VendorUnavailable, match="after 3 retries"):
            client.request("POST", "/lists/a1b2c3d4e5", write=True, json={"members": []})
        assert client.stats.write_calls == 4


def test_expired_token_is_refreshed_once_then_refused():
    refreshed = []
    with MailchimpFake() as fake:
        fake.inject(auth_expired_next=1)
        client = VendorClient(
            base_url=fake.base_url, auth=("x", fake.api_key),
            pacing=Pacing(rate_per_s=None, concurrency=1, timeout_s=1, max_retries=1),
            refresh=lambda: refreshed.append(1) or {},
        )
        assert client.request("GET", "/ping", write=False).status_code == 200
        assert refreshed == [1]
        fake.inject(auth_expired_next=5)
        with pytest.raises(VendorAuthError):
            client.request("GET", "/ping", write=False)
        assert refreshed == [1, 1]  # once per request, then the refusal stands


def test_backoff_grows_and_is_capped():
    client = VendorClient(base_url="http://127.0.0.1:9", pacing=Pacing(
        rate_per_s=None, concurrency=1, timeout_s=1, max_retries=1,
        backoff_base_s=0.5, backoff_cap_s=4))
    delays = [client._delay(attempt, None) for attempt in range(8)]
    assert 0.25 <= delays[0] <= 0.5 and all(d <= 4 for d in delays) and delays[7] >= 2


def test_token_bucket_paces_to_the_rate():
    bucket = TokenBucket(rate=50, burst=1)
    started = time.monotonic()
    for _ in range(11):
        bucket.acquire()
    assert 0.18 <= time.monotonic() - started < 0.5


@override_settings(CDP_SYNC_BACKOFF_BASE_S=0.01)
def test_concurrency_never_exceeds_the_vendor_cap():
    from concurrent.futures import ThreadPoolExecutor

    with MailchimpFake(limits=Limits(max_concurrent=3, service_time=0.05)) as fake:
        client = _client(fake, concurrency=3)
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: client.request("GET", "/ping", write=False),
                                    range(24)))
        assert {a.status_code for a in answers} == {200}
        assert fake.peak_in_flight <= 3 and client.stats.retries == 0
        assert isinstance(answers[0], httpx.Response)
