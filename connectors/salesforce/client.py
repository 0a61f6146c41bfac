"""One run's session with a Salesforce org: OAuth2, the daily budget, pacing, SOQL.

The refresh-token grant at the token host (login.salesforce.com, test.salesforce.com or
a My Domain) gives an access token and the instance_url every other call goes to. Tokens
carry no expiry, so an INVALID_SESSION_ID answer (401) opens a new session once per
request (VendorClient's refresh), shared by the run's threads; a rotated refresh token is
used from then on. Every answer's Sforce-Limit-Info tells how much of the org's daily
request allocation is used: `spend()` stops the run (VendorBudgetExhausted) before the
remaining requests fall under a reserve left to the org's other integrations, and a 403
TotalRequests refusal stops it too. Salesforce refuses calls beyond its concurrency
limit with a 403 as well, without Retry-After: those are retried (VendorThrottled) and
the run's pace is halved, then creeps back up as calls go through.
"""

import re
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx

from connectors.http import (
    VendorAuthError,
    VendorBudgetExhausted,
    VendorClient,
    VendorThrottled,
    VendorUnavailable,
)

DEFAULT_TOKEN_HOST = "https://login.salesforce.com"  # noqa: S105 - a URL, not a secret
TOKEN_PATH = "/services/oauth2/token"  # noqa: S105 - a URL path
# Pacing once Salesforce refuses calls for concurrency (requests/s): halve from FIRST on
# each refusal down to MIN, creep back up by STEP per answer that goes through, to MAX.
PACE_FIRST, PACE_MIN, PACE_STEP, PACE_MAX = 10.0, 0.5, 0.1, 50.0
# Per-record refusals that sending the same data again will not cure.
TERMINAL = frozenset({
    "INVALID_EMAIL_ADDRESS", "REQUIRED_FIELD_MISSING", "STRING_TOO_LONG", "INVALID_FIELD",
    "INVALID_FIELD_FOR_INSERT_UPDATE", "INVALID_TYPE_ON_FIELD_IN_RECORD",
    "FIELD_CUSTOM_VALIDATION_EXCEPTION", "FIELD_INTEGRITY_EXCEPTION", "DUPLICATES_DETECTED",
    "DUPLICATE_VALUE", "DUPLICATE_EXTERNAL_ID", "NUMBER_OUTSIDE_VALID_RANGE",
    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "MALFORMED_ID",
})
_SF_ID = re.compile(r"[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?")
_USAGE = re.compile(r"api-usage=(\d+)/(\d+)")
_EMAIL = re.compile(r"[^\s@:,;'\"<>\[\]()]+@[^\s@:,;'\"<>\[\]()]+")


def soql_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def is_record_id(value: str) -> bool:
    return bool(_SF_ID.fullmatch(value))


def scrub(text: str) -> str:
    """A vendor message without the addresses it quotes (kept in run and member errors)."""
    return _EMAIL.sub("<email>", text)[:300]


def problem(response: httpx.Response) -> str:
    """Status and error code of a refusal (its message may quote personal data)."""
    try:
        body = response.json()
    except ValueError:
        return str(response.status_code)
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return f"{response.status_code} {body[0].get('errorCode', '')}".strip()
    if isinstance(body, dict) and body.get("error"):
        return f"{response.status_code} {body['error']}"
    return str(response.status_code)


def refusal(code: str, message: str) -> tuple[str, bool]:
    """(error text, retryable) of one refused record."""
    return scrub(f"{code}: {message}"), code not in TERMINAL


class SalesforceApi:
    """Session, budget and pacing of one run, over the run's VendorClient."""

    def __init__(self, client: VendorClient, credentials: dict[str, str], *, version: str,
                 reserve: int):
        self.client, self.credentials = client, credentials
        self.version = version if version.startswith("v") else f"v{version}"
        self.reserve = reserve
        self.usage: tuple[int, int] | None = None  # (used, max) of the daily allocation
        self._refresh_token = credentials.get("refresh_token", "")
        self._access = self._instance = ""
        self._lock = threading.Lock()
        self._pace_lock = threading.Lock()
        self._local = threading.local()
        client.refresh = self._refresh
        client.observe = self._observe

    def _open_session(self) -> None:
        """Refresh-token grant: an access token and the org's instance URL."""
        form = {"grant_type": "refresh_token", "refresh_token": self._refresh_token,
                "client_id": self.credentials.get("client_id", ""),
                "client_secret": self.credentials.get("client_secret", "")}
        self._local.opening = True
        try:
            response = self.client.request(
                "POST", TOKEN_PATH, write=False, content=urlencode(form).encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded"})
        finally:
            self._local.opening = False
        if response.status_code != 200:
            raise VendorAuthError(f"Salesforce refused the token refresh: {problem(response)}")
        body = response.json()
        self._access, self._instance = body["access_token"], body["instance_url"].rstrip("/")
        if body.get("refresh_token"):  # rotation: the old one stops working at once
            self._refresh_token = self.credentials["refresh_token"] = body["refresh_token"]
        self.client.http.headers["Authorization"] = f"Bearer {self._access}"

    def _refresh(self) -> dict[str, str]:
        """VendorClient's callback on 401 INVALID_SESSION_ID: a new session, unless another
        thread already opened one since this request was sent."""
        if getattr(self._local, "opening", False):
            raise VendorAuthError("Salesforce token endpoint answered 401")
        failed = getattr(self._local, "failed_token", None)
        with self._lock:
            if failed is None or failed == self._access:
                self._open_session()
        return {"Authorization": f"Bearer {self._access}"}

    def _observe(self, response: httpx.Response) -> None:
        found = _USAGE.search(response.headers.get("Sforce-Limit-Info", ""))
        if found:
            self.usage = (int(found.group(1)), int(found.group(2)))
        if response.status_code == 401:
            sent = response.request.headers.get("Authorization", "")
            self._local.failed_token = sent.removeprefix("Bearer ")
        elif response.status_code == 403:
            code, message = _first_error(response)
            if code == "REQUEST_LIMIT_EXCEEDED" and "Concurrent" in message:
                self._pace(throttled=True)
                raise VendorThrottled(message)
            if code == "REQUEST_LIMIT_EXCEEDED":
                raise VendorBudgetExhausted(f"Salesforce refused the call: {message[:100]}")
        elif response.status_code < 400:
            self._pace(throttled=False)

    def _pace(self, *, throttled: bool) -> None:
        """Salesforce sends no Retry-After: slow the whole run down when it refuses calls
        for concurrency (the client's token bucket), speed back up as calls go through."""
        bucket = self.client.bucket
        with self._pace_lock, bucket.lock:
            if throttled:
                bucket.rate = max(PACE_MIN, (bucket.rate or 2 * PACE_FIRST) / 2)
                bucket.burst, bucket.tokens = 1, min(bucket.tokens, 1.0)
            elif bucket.rate is not None:  # (never back to None: a waiting thread divides)
                bucket.rate = min(PACE_MAX, bucket.rate + PACE_STEP)

    def spend(self, calls: int) -> None:
        """Stop before the org's remaining daily requests fall under the reserve."""
        if self.usage is None:
            return
        used, limit = self.usage
        if limit - used - calls < self.reserve:
            raise VendorBudgetExhausted(
                f"Salesforce daily API requests: {used} of {limit} used, {self.reserve} "
                "kept for the org's other integrations; the rest waits for the next run")

    def call(self, method: str, path: str, *, write: bool, **options: Any) -> httpx.Response:
        """A call to the org's REST API (path under /services/data/vNN.0, or a full
        path such as a nextRecordsUrl), opening the session first if needed."""
        if not self._instance:
            with self._lock:
                if not self._instance:
                    self._open_session()
        root = self._instance if path.startswith("/services/") else (
            f"{self._instance}/services/data/{self.version}")
        return self.client.request(method, root + path, write=write, **options)

    def query(self, soql: str) -> Iterator[dict[str, Any]]:
        """Every row of a SOQL query, following nextRecordsUrl page by page."""
        self.spend(1)
        response = self.call("GET", "/query", write=False, params={"q": soql})
        while True:
            if response.status_code != 200:
                raise VendorUnavailable(f"SOQL query refused: {problem(response)}")
            body = response.json()
            yield from body.get("records", [])
            if body.get("done", True) or not body.get("nextRecordsUrl"):
                return
            self.spend(1)
            response = self.call("GET", body["nextRecordsUrl"], write=False)


def _first_error(response: httpx.Response) -> tuple[str, str]:
    try:
        body = response.json()
    except ValueError:
        return "", ""
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return str(body[0].get("errorCode", "")), str(body[0].get("message", ""))
    return "", ""
