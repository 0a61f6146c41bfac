"""Talking to a vendor politely: pacing, bounded concurrency, retries with backoff.

One VendorClient per sync run, shared by the threads sending batches. It paces requests
with a token bucket (the destination's rate), keeps at most `concurrency` connections,
retries 429 (honouring Retry-After when the vendor sends one), 5xx, timeouts, dropped
connections and answers a connector's `observe` hook calls throttling (VendorThrottled)
with exponential backoff and full jitter up to a bound, and refreshes an expired token
once on 401. What still fails raises VendorUnavailable; callers leave the
members pending for the next run or the nightly batch.
"""

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from django.conf import settings


class VendorUnavailable(Exception):
    """The vendor kept failing after every retry (5xx, 429, timeouts): try later."""


class VendorAuthError(Exception):
    """Credentials refused (401/403 after a refresh): the whole sync stops."""


class VendorBudgetExhausted(Exception):
    """The vendor's API budget (e.g. Salesforce's daily requests) is nearly spent: the
    sync stops cleanly, what was not sent stays pending for a later run."""


class VendorThrottled(Exception):
    """Raised by an `observe` hook when an answer is the vendor's own way of saying "slow
    down" (e.g. Salesforce's 403 REQUEST_LIMIT_EXCEEDED for concurrent requests): the
    call is retried with backoff like a 429."""


@dataclass
class Pacing:
    rate_per_s: float | None
    concurrency: int
    timeout_s: float
    max_retries: int
    backoff_base_s: float = field(default_factory=lambda: settings.CDP_SYNC_BACKOFF_BASE_S)
    backoff_cap_s: float = field(default_factory=lambda: settings.CDP_SYNC_BACKOFF_CAP_S)


class TokenBucket:
    """`rate` requests per second on average, bursts up to `burst`; thread-safe."""

    def __init__(self, rate: float | None, burst: int = 1):
        self.rate, self.burst = rate, max(1, burst)
        self.tokens = float(self.burst)
        self.updated = time.monotonic()
        self.lock = threading.Lock()

    def acquire(self) -> None:
        if not self.rate:
            return
        while True:
            with self.lock:
                now = time.monotonic()
                self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                wait = (1 - self.tokens) / self.rate
            time.sleep(wait)


@dataclass
class CallStats:
    api_calls: int = 0
    write_calls: int = 0
    retries: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, *, write: bool, retry: bool) -> None:
        with self.lock:
            self.api_calls += 1
            self.write_calls += write
            self.retries += retry


class VendorClient:
    def __init__(
        self,
        *,
        base_url: str,
        pacing: Pacing,
        auth: httpx.Auth | tuple[str, str] | None = None,
        headers: dict[str, str] | None = None,
        refresh: Callable[[], dict[str, str]] | None = None,
        stats: CallStats | None = None,
        observe: Callable[[httpx.Response], None] | None = None,
    ):
        self.pacing = pacing
        self.stats = stats or CallStats()
        self.bucket = TokenBucket(pacing.rate_per_s, burst=pacing.concurrency)
        self.refresh = refresh
        # Sees every response (rate-limit or budget headers); may raise
        # VendorBudgetExhausted, or retune self.bucket.
        self.observe = observe
        self.http = httpx.Client(
            base_url=base_url, auth=auth, headers=headers or {},
            timeout=httpx.Timeout(pacing.timeout_s),
            limits=httpx.Limits(max_connections=pacing.concurrency,
                                max_keepalive_connections=pacing.concurrency),
        )

    def close(self) -> None:
        self.http.close()

    def _delay(self, attempt: int, response: httpx.Response | None) -> float:
        if response is not None and response.status_code == 429:
            after = response.headers.get("Retry-After", "")
            if after.strip().isdigit():
                return min(float(after), self.pacing.backoff_cap_s)
        ceiling = min(self.pacing.backoff_cap_s, self.pacing.backoff_base_s * 2**attempt)
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not secrets

    def request(
        self, method: str, path: str, *, write: bool, json: Any = None,
        params: dict[str, Any] | None = None, content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """The vendor's answer (any status but 429/5xx/401); raises VendorUnavailable
        after max_retries retries and VendorAuthError when credentials are refused (after
        one token refresh per request, when the connector can refresh)."""
        attempt, refreshed = 0, False
        while True:
            self.bucket.acquire()
            self.stats.count(write=write, retry=attempt > 0)
            response = None
            try:
                response = self.http.request(method, path, json=json, params=params,
                                             content=content, headers=headers)
            except httpx.TransportError as exc:  # timeouts, resets, refused connections
                failure = type(exc).__name__
            else:
                status = response.status_code
                if self._throttled(response):
                    failure = f"HTTP {status} (throttled)"
                elif status == 401 and self.refresh and not refreshed:
                    refreshed = True
                    self.http.headers.update(self.refresh())
                    continue
                elif status in (401, 403):
                    # A bare (non-JSON) 403 is Mailchimp's throttle under load: retry once.
                    if not (status == 403 and attempt == 0 and _bare(response)):
                        raise VendorAuthError(f"{method} {path}: {status} credentials refused")
                    failure = f"HTTP {status}"
                elif status != 429 and status < 500:
                    return response
                else:
                    failure = f"HTTP {status}"
            if attempt >= self.pacing.max_retries:
                raise VendorUnavailable(f"{method} {path}: {failure} after {attempt} retries")
            time.sleep(self._delay(attempt, response))
            attempt += 1

    def _throttled(self, response: httpx.Response) -> bool:
        """Show the answer to the observe hook; True when it says the vendor throttled."""
        if self.observe is None:
            return False
        try:
            self.observe(response)
        except VendorThrottled:
            return True
        return False


def _bare(response: httpx.Response) -> bool:
    return "json" not in response.headers.get("content-type", "")
