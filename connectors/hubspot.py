"""HubSpot CRM v3 (facts: ../shared/docs/connector-apis.md, section 2).

An audience sync is a MANUAL list of contacts (container `list_id`, or `list_name`:
found or created). Members are upserted 100 per call with `batch/upsert` by
`idProperty=email`, each input with its own `objectWriteTraceId`, so one refused address
is reported alone (207) instead of failing the whole batch; results come back in any
order and are matched by email. Joiners then enter the list by record id
(`memberships/add`); leaving the segment is `memberships/remove` (the contact is kept).
Erasure is `gdpr-delete` by record id. Read-back pages the list's memberships and reads
the records (email, mapped properties, `hs_email_optout`: "true" is an opt-out).

Vendor ids are HubSpot's record ids, which an email does not give: `remote_id()` looks
members up in the list as read back once per run (the engine compares it with the id it
stored to tell a member that stayed from one whose email changed).

Pacing: HubSpot's `X-HubSpot-RateLimit-Max / -Interval-Milliseconds / -Remaining` on every
answer retune the client's token bucket, so the sync slows down before it meets a 429;
the daily budget (`-Daily-Remaining`, private apps) or a DAILY 429 stops the run cleanly.
Credentials: a private-app token (`access_token`), or OAuth (`client_id`,
`client_secret`, `refresh_token`): access tokens are fetched from `/oauth/v1/token`,
renewed ahead of `expires_in`, and once more on a 401.
"""

import json
import re
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from connectors.base import (
    Connector,
    EraseOutcome,
    ItemResult,
    Limits,
    OutMember,
    RemoteMember,
    SentMember,
)
from connectors.http import (
    VendorAuthError,
    VendorBudgetExhausted,
    VendorClient,
    VendorUnavailable,
)

DEFAULT_BASE_URL = "https://api.hubapi.com"
CONTACTS = "/crm/v3/objects/contacts"
LISTS = "/crm/v3/lists"
PROPERTIES = "/crm/v3/properties/contacts"
TOKEN = "/oauth/v1/token"  # noqa: S105 - a path, not a secret
CONTACT_TYPE = "0-1"
OPT_OUT = "hs_email_optout"
OAUTH_KEYS = ("client_id", "client_secret", "refresh_token")
# HubSpot-defined properties a mapping is likely to use; custom ones are found via the
# properties API (read-back only: reads name the properties they want back).
STANDARD_PROPERTIES = ("firstname", "lastname", "phone", "mobilephone", "company", "jobtitle",
                       "website", "address", "city", "state", "zip", "country",
                       "date_of_birth")
_NOT_FIELDS = frozenset({"email", OPT_OUT, "hs_object_id", "createdate", "lastmodifieddate"})
# Per-item refusals that resending the same data will not cure.
_TERMINAL = frozenset({"VALIDATION_ERROR", "CONFLICT", "INVALID_EMAIL"})


class ContainerError(VendorUnavailable):
    """The sync's list is missing or cannot hold members (DYNAMIC): fix the sync."""


def _int(value: str | None) -> int | None:
    return int(value) if value and value.strip().isdigit() else None


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _problem(response: httpx.Response) -> str:
    """Status and category only: HubSpot's messages may quote personal data."""
    body = _json(response)
    return f"{response.status_code} {body.get('category') or body.get('status') or ''}".strip()


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _item_error(error: dict[str, Any], email: str | None) -> str:
    """`VALIDATION_ERROR: INVALID_EMAIL (email)`, never the address itself."""
    category = str(error.get("category") or "error")
    message = str(error.get("message") or "")
    codes: list[str] = []
    if ": [" in message:
        try:
            problems = json.loads(message[message.index(": [") + 2 :])
        except ValueError:
            problems = []
        codes = [f"{p.get('error')} ({p.get('name')})" for p in problems
                 if isinstance(p, dict) and p.get("error")]
    text = f"{category}: {', '.join(codes) if codes else message}"
    if email:
        text = re.sub(re.escape(email), "<email>", text, flags=re.IGNORECASE)
    return text[:300]


def _traces(error: dict[str, Any]) -> list[str]:
    context = error.get("context") or {}
    found = context.get("objectWriteTraceId") or error.get("objectWriteTraceId") or []
    return [found] if isinstance(found, str) else [str(t) for t in found]


class HubspotConnector(Connector):
    kind = "hubspot"
    # Professional/Enterprise burst: 190 calls per rolling 10 s, paced a little under it
    # until the first answer's headers say the account's real figures; 100 per batch.
    limits = Limits(rate_per_s=18.0, concurrency=4, batch_size=100)
    # Accepted credential sets: a private-app token, or an OAuth app's refresh grant.
    credential_sets = (("access_token",), OAUTH_KEYS)
    list_page = 250  # memberships per read-back page (HubSpot's maximum)
    read_batch = 100  # records per batch/read
    membership_chunk = 250  # record ids per memberships call (HubSpot's cap is unconfirmed)
    daily_reserve = 0.02  # stop when less than this share of the daily calls is left

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.list_id = str(self.container.get("list_id") or "")
        self.list_name = str(self.container.get("list_name") or "")
        self._ids: dict[str, str] | None = None  # email -> record id of the list's members
        self._ready = False
        self._oauth = not self.credentials.get("access_token")
        self._token, self._renew_at = "", 0.0
        self._token_lock = threading.Lock()
        self._local = threading.local()  # the token each thread last sent
        self._observed = self.client.observe
        self.client.observe = self._observe
        if self._oauth:
            self.client.refresh = self._refresh

    @staticmethod
    def base_url(configured: str, credentials: dict[str, str]) -> str:
        if not credentials.get("access_token") and not all(credentials.get(k)
                                                           for k in OAUTH_KEYS):
            raise ValueError("HubSpot needs access_token (private app) or client_id, "
                             "client_secret and refresh_token (OAuth)")
        return (configured or DEFAULT_BASE_URL).rstrip("/")

    @staticmethod
    def client_options(credentials: dict[str, str]) -> dict[str, Any]:
        token = credentials.get("access_token")
        return {"headers": {"Authorization": f"Bearer {token}"}} if token else {}

    @staticmethod
    def container_error(container: dict[str, Any]) -> str | None:
        if str(container.get("list_id") or container.get("list_name") or "").strip():
            return None
        return "hubspot needs list_id or list_name"

    # -- calls, tokens and pacing --------------------------------------------------------
    def _call(self, method: str, path: str, *, write: bool, **options: Any) -> httpx.Response:
        if self._oauth:
            with self._token_lock:
                if not self._token or time.monotonic() >= self._renew_at:
                    self._fetch_token()  # ahead of expires_in, as HubSpot asks
                self._local.token = self._token
        return self.client.request(method, path, write=write, **options)

    def _fetch_token(self) -> None:
        """A new access token from the refresh grant (caller holds the token lock)."""
        form = {"grant_type": "refresh_token", **{k: self.credentials[k] for k in OAUTH_KEYS}}
        # Its own client: a 401 here must not call the refresh hook again.
        client = VendorClient(base_url=str(self.client.http.base_url),
                              pacing=self.client.pacing, stats=self.client.stats)
        try:
            response = client.request(
                "POST", TOKEN, write=False, content=urlencode(form).encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded"})
        finally:
            client.close()
        body = _json(response)
        if response.status_code != 200 or not body.get("access_token"):
            raise VendorAuthError(f"HubSpot refused the OAuth refresh: {response.status_code} "
                                  f"{body.get('status', '')}".strip())
        lifetime = float(body.get("expires_in") or 1800)
        self._token = str(body["access_token"])
        self._renew_at = time.monotonic() + lifetime - min(60.0, lifetime / 5)
        self.client.http.headers["Authorization"] = f"Bearer {self._token}"

    def _refresh(self) -> dict[str, str]:
        """VendorClient's hook on a 401: renew, unless another thread just did."""
        with self._token_lock:
            if not self._token or self._token == getattr(self._local, "token", None):
                self._fetch_token()
            self._local.token = self._token
            return {"Authorization": f"Bearer {self._token}"}

    def _observe(self, response: httpx.Response) -> None:
        if self._observed is not None:
            self._observed(response)
        headers = response.headers
        if response.status_code == 429 and _json(response).get("policyName") == "DAILY":
            raise VendorBudgetExhausted("HubSpot's daily API limit is reached: the rest "
                                        "stays pending")
        daily = _int(headers.get("X-HubSpot-RateLimit-Daily"))
        left_today = _int(headers.get("X-HubSpot-RateLimit-Daily-Remaining"))
        if daily and left_today is not None and left_today <= daily * self.daily_reserve:
            raise VendorBudgetExhausted(f"HubSpot's daily API budget is nearly spent "
                                        f"({left_today} of {daily} calls left)")
        self._pace(_int(headers.get("X-HubSpot-RateLimit-Max")),
                   _int(headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")),
                   _int(headers.get("X-HubSpot-RateLimit-Remaining")))

    def _pace(self, most: int | None, interval_ms: int | None, left: int | None) -> None:
        """At most `most` calls per window: a steady rate that, with its burst, never
        exceeds it; and when few calls are left in the window, a pause before the next."""
        if not most or not interval_ms:
            return
        burst = max(1, min(self.client.pacing.concurrency, most // 20))
        rate = max(most - burst, 1) / (interval_ms / 1000)
        configured = self.client.pacing.rate_per_s
        if configured and configured != self.limits.rate_per_s:  # the destination's own
            rate = min(rate, configured)
        bucket = self.client.bucket
        with bucket.lock:
            now = time.monotonic()
            refilled = bucket.tokens + (now - bucket.updated) * (bucket.rate or rate)
            bucket.tokens, bucket.updated = min(float(burst), refilled), now
            bucket.rate, bucket.burst = rate, burst
            if left is not None:
                bucket.tokens = min(bucket.tokens, float(left - burst))

    # -- the list ------------------------------------------------------------------------
    def prepare(self) -> None:
        """Check the list (by id), or find it by name and create it if it does not exist."""
        if self._ready:
            return
        if self.list_id:
            found = self._call("GET", f"{LISTS}/{self.list_id}", write=False)
        elif self.list_name:
            found = self._list_by_name()
        else:
            raise ContainerError("a HubSpot sync needs list_id or list_name")
        if found.status_code == 404:
            raise ContainerError(f"HubSpot list {self.list_id or self.list_name!r} not found")
        if found.status_code != 200:
            raise VendorUnavailable(f"HubSpot list lookup: {_problem(found)}")
        hs_list = _json(found).get("list") or {}
        if hs_list.get("processingType") not in ("MANUAL", "SNAPSHOT"):
            raise ContainerError(f"HubSpot list {hs_list.get('listId')} is "
                                 f"{hs_list.get('processingType')}: only MANUAL or SNAPSHOT "
                                 "lists take members")
        self.list_id, self._ready = str(hs_list["listId"]), True

    def _list_by_name(self) -> httpx.Response:
        path = f"{LISTS}/object-type-id/{CONTACT_TYPE}/name/{quote(self.list_name, safe='')}"
        found = self._call("GET", path, write=False)
        if found.status_code != 404:
            return found
        created = self._call("POST", f"{LISTS}/", write=True, json={
            "name": self.list_name, "objectTypeId": CONTACT_TYPE, "processingType": "MANUAL"})
        if created.status_code == 400:  # created meanwhile by someone else
            return self._call("GET", path, write=False)
        return created

    # -- sending -------------------------------------------------------------------------
    def remote_id(self, member: OutMember) -> str:
        """The record id if the member's email is in the list; "" until HubSpot says."""
        if self._ids is None:
            self._ids = {m.email.lower(): m.remote_id
                         for m in self._members(["email"]) if m.email}
        return self._ids.get((member.email or "").strip().lower(), "")

    def push(self, batch: list[OutMember]) -> list[ItemResult]:
        results: dict[Any, ItemResult] = {}
        groups: dict[str, list[OutMember]] = {}  # HubSpot refuses the same id twice
        for member in batch:
            email = (member.email or "").strip().lower()
            if email:
                groups.setdefault(email, []).append(member)
            else:
                results[member.profile_id] = ItemResult(member.profile_id, False,
                                                        error="no email", retryable=False)
        traces = {f"cdp-{n}": email for n, email in enumerate(groups)}
        inputs = [{"idProperty": "email", "id": email, "objectWriteTraceId": trace,
                   "properties": {**{k: _text(v) for k, v in groups[email][0].fields.items()},
                                  "email": email}}
                  for trace, email in traces.items()]
        response = self._call("POST", f"{CONTACTS}/batch/upsert", write=True,
                              json={"inputs": inputs}) if inputs else None
        if response is not None and response.status_code not in (200, 207):
            problem = _problem(response)
            return [results.get(m.profile_id)
                    or ItemResult(m.profile_id, False, error=problem, retryable=True)
                    for m in batch]
        body = _json(response) if response is not None else {}
        record_ids: dict[str, str] = {}
        for item in body.get("results", []):
            email = (item.get("properties") or {}).get("email") or traces.get(
                item.get("objectWriteTraceId", ""), "")
            if email and item.get("id"):
                record_ids[email.lower()] = str(item["id"])
        refused = {traces[t]: error for error in body.get("errors", []) for t in _traces(error)
                   if t in traces}
        not_joined = self._join(sorted({record_ids[e] for e, members in groups.items()
                                        if e in record_ids and any(m.join for m in members)}))
        for email, members in groups.items():
            for member in members:
                results[member.profile_id] = self._outcome(
                    member, record_ids.get(email), refused.get(email), not_joined)
        return [results[m.profile_id] for m in batch]

    @staticmethod
    def _outcome(member: OutMember, record_id: str | None, error: dict | None,
                 not_joined: dict[str, str]) -> ItemResult:
        if record_id is not None:
            trouble = not_joined.get(record_id) if member.join else None
            return ItemResult(member.profile_id, trouble is None, record_id,
                              error=trouble or "", retryable=trouble is not None)
        if error is not None:
            return ItemResult(member.profile_id, False, error=_item_error(error, member.email),
                              retryable=error.get("category") not in _TERMINAL)
        return ItemResult(member.profile_id, False, error="not confirmed by HubSpot",
                          retryable=True)

    def _join(self, record_ids: list[str]) -> dict[str, str]:
        """Add to the list; returns the ids that did not get in, with why."""
        failed: dict[str, str] = {}
        for start in range(0, len(record_ids), self.membership_chunk):
            chunk = record_ids[start : start + self.membership_chunk]
            try:
                response = self._call("PUT", f"{LISTS}/{self.list_id}/memberships/add",
                                      write=True, json=chunk)
            except VendorUnavailable as exc:
                failed.update(dict.fromkeys(chunk, str(exc)[:300]))
                continue
            if response.status_code != 200:
                failed.update(dict.fromkeys(chunk, f"list: {_problem(response)}"))
                continue
            missing = {str(i) for i in _json(response).get("recordIdsMissing", [])}
            failed.update(dict.fromkeys([i for i in chunk if i in missing],
                                        "record not found when joining the list"))
        return failed

    def remove(self, batch: list[SentMember]) -> list[ItemResult]:
        record_ids = sorted({m.remote_id for m in batch if m.remote_id.isdigit()})
        for start in range(0, len(record_ids), self.membership_chunk):
            response = self._call("PUT", f"{LISTS}/{self.list_id}/memberships/remove",
                                  write=True,
                                  json=record_ids[start : start + self.membership_chunk])
            if response.status_code != 200:
                problem = f"list: {_problem(response)}"
                return [ItemResult(m.profile_id, False, error=problem, retryable=True)
                        for m in batch]
        # Removed, not in the list, or gone from HubSpot: out of the list either way.
        return [ItemResult(m.profile_id, True, m.remote_id) for m in batch]

    def erase(self, remote_id: str, container: dict[str, Any]) -> EraseOutcome:
        if not remote_id.isdigit():
            return EraseOutcome("manual", "HubSpot never confirmed a record id for this "
                                          "person: GDPR-delete them in HubSpot by email")
        try:
            response = self._call("POST", f"{CONTACTS}/gdpr-delete", write=True,
                                  json={"objectId": remote_id})
        except (VendorUnavailable, VendorBudgetExhausted) as exc:
            return EraseOutcome("failed", str(exc)[:300])
        if response.status_code == 204:
            return EraseOutcome("done", "204 GDPR-deleted (email blocklisted)")
        if response.status_code == 404:
            return EraseOutcome("done", "404 no such record (already deleted)")
        return EraseOutcome("failed", _problem(response))

    # -- reading back --------------------------------------------------------------------
    def read_back(self) -> Iterator[RemoteMember]:
        """Every contact in the list, with its mapped properties and opt-out status."""
        return self._members(["email", OPT_OUT, *STANDARD_PROPERTIES, *self._custom()])

    def _custom(self) -> list[str]:
        """Names of the portal's own (custom) contact properties, which mappings may use."""
        response = self._call("GET", PROPERTIES, write=False, params={"archived": "false"})
        if response.status_code != 200:
            raise VendorUnavailable(f"HubSpot properties: {_problem(response)}")
        return [p["name"] for p in _json(response).get("results", [])
                if not p.get("hubspotDefined") and p.get("name")]

    def _members(self, properties: list[str]) -> Iterator[RemoteMember]:
        after = None
        while True:
            params: dict[str, Any] = {"limit": self.list_page}
            if after:
                params["after"] = after
            page = self._call("GET", f"{LISTS}/{self.list_id}/memberships", write=False,
                              params=params)
            if page.status_code != 200:
                raise VendorUnavailable(f"HubSpot list memberships: {_problem(page)}")
            body = _json(page)
            ids = [str(r["recordId"]) for r in body.get("results", [])]
            for start in range(0, len(ids), self.read_batch):
                yield from self._records(ids[start : start + self.read_batch], properties)
            after = ((body.get("paging") or {}).get("next") or {}).get("after")
            if not after or not ids:
                return

    def _records(self, record_ids: list[str], properties: list[str]) -> Iterator[RemoteMember]:
        response = self._call("POST", f"{CONTACTS}/batch/read", write=False, json={
            "inputs": [{"id": i} for i in record_ids], "properties": properties})
        if response.status_code not in (200, 207):  # 207: some were deleted meanwhile
            raise VendorUnavailable(f"HubSpot batch read: {_problem(response)}")
        for item in _json(response).get("results", []):
            props = item.get("properties") or {}
            yield RemoteMember(
                remote_id=str(item["id"]), email=props.get("email"),
                status="unsubscribed" if props.get(OPT_OUT) == "true" else "subscribed",
                in_container=True,
                fields={k: v for k, v in props.items()
                        if k not in _NOT_FIELDS and v not in (None, "")},
            )
