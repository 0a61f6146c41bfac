"""The HubSpot fake server: configuration, checks, rate-limit headers and the control API.

Routes live in `contacts.py`, `lists.py` and `auth.py`, error shapes in `errors.py`, the
portal rules in `store.py`.
Faithful (connector doc, sections 2 and 5.3): Bearer auth with private-app tokens and
OAuth access tokens that expire; the burst limit as a sliding window (the shared base's
`rate_limit` per `rate_window`, 190 per 10 s by default, Professional tier) answered by
429 `policyName: TEN_SECONDLY_ROLLING`, `Retry-After` only when configured; a daily
budget per portal answered by 429 `policyName: DAILY`; `X-HubSpot-RateLimit-Max`,
`-Remaining` and `-Interval-Milliseconds` on every answer, plus `-Daily` and
`-Daily-Remaining` for private-app tokens only (absent for OAuth calls);
`x-hubspot-correlation-id` on every answer.
Opt-outs: HubSpot's read-only contact property `hs_email_optout` ("true" once the person
unsubscribed from all email) stands for the subscription status; `set_opted_out()` sets
it as HubSpot would, and the API refuses writes to it (READ_ONLY_VALUE).
Simplified: one portal per fake; the search endpoints (and their lower budget) are not
served; every authenticated call counts against the daily budget, rate-limited ones too;
calls rejected before authentication carry the burst headers but cost nothing.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from tests.fakes.base import Abort, FakeServer, Faults, Limits, Request, Response
from tests.fakes.hubspot.auth import ALL_SCOPES, TOKEN_PATH, AccessToken, AuthRoutes, Grant
from tests.fakes.hubspot.contacts import ContactRoutes
from tests.fakes.hubspot.errors import CORRELATION, HubspotErrors
from tests.fakes.hubspot.lists import ListRoutes
from tests.fakes.hubspot.store import (
    CONTACT_TYPE,
    DEFAULT_PROPERTIES,
    REJECTED_DOMAINS,
    Contact,
    HsList,
    Portal,
    utc_now,
)

DEFAULT_TOKEN = "pat-na1-00000000-0000-4000-8000-000000000001"
CLIENT_ID = "0f0e0d0c-cdp0-4000-8000-client000001"
CLIENT_SECRET = "secret-00000000-0000-4000-8000-000000000002"
REFRESH_TOKEN = "rt-na1-00000000-0000-4000-8000-000000000003"
# Burst per 10 s and daily calls by tier (connector doc 2.9).
TIERS = {"starter": (100, 250_000), "professional": (190, 625_000),
         "enterprise": (190, 1_000_000)}


def hubspot_limits(tier: str = "professional", *, retry_after: bool = False,
                   service_time: float = 0.0) -> Limits:
    """HubSpot's burst limit of a tier: N calls per rolling 10 s; no concurrency cap."""
    return Limits(rate_limit=TIERS[tier][0], rate_window=10.0, retry_after=retry_after,
                  service_time=service_time)


class HubspotFake(ContactRoutes, ListRoutes, AuthRoutes, HubspotErrors, FakeServer):
    """A HubSpot CRM v3 subset (contacts, lists, OAuth) over real HTTP, inspectable."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        scopes: Iterable[str] = ALL_SCOPES,
        client_id: str = CLIENT_ID,
        client_secret: str = CLIENT_SECRET,
        refresh_token: str = REFRESH_TOKEN,
        access_token_ttl: float = 1800.0,
        daily_limit: int | None = TIERS["professional"][1],
        properties: Iterable[str] = DEFAULT_PROPERTIES,
        rejected_domains: Iterable[str] = REJECTED_DOMAINS,
        batch_limit: int = 100,
        page_limit: int = 100,
        list_page_limit: int = 250,
        membership_limit: int | None = None,
        clock: Callable[[], datetime] = utc_now,
        faults: Faults | None = None,
        limits: Limits | None = None,
        seed: int = 0,
        log_bodies: bool = True,
    ) -> None:
        super().__init__(faults=faults, limits=limits or hubspot_limits(), seed=seed,
                         log_bodies=log_bodies)
        self.token, self.refresh_token = token, refresh_token
        self.client_id, self.client_secret = client_id, client_secret
        self.access_token_ttl = access_token_ttl
        self.daily_limit = daily_limit
        self.batch_limit, self.page_limit = batch_limit, page_limit
        self.list_page_limit, self.membership_limit = list_page_limit, membership_limit
        self._config = (frozenset(scopes), frozenset(properties), frozenset(rejected_domains),
                        clock)
        self._daily_lock = threading.Lock()
        self.reset_state()
        self.register_auth_routes()
        self.register_contact_routes()
        self.register_list_routes()

    @property
    def base_url(self) -> str:
        """The API root, like `https://api.hubapi.com`."""
        return self.url

    # -- state ------------------------------------------------------------------------------
    def reset_state(self) -> None:
        scopes, properties, rejected, clock = self._config
        with self.lock:
            self.portal = Portal(properties, rejected, clock)
            self.shuffler = random.Random(self._seed)
            self.tokens: dict[str, AccessToken] = {}
            self.grants: dict[str, Grant] = {}
            self.codes: dict[str, Grant] = {}
            self.daily_used = 0
            self.add_private_token(self.token, scopes)
            self.add_refresh_token(self.refresh_token, scopes)

    def is_write(self, request: Request) -> bool:
        if request.method == "POST" and (request.path.endswith(("/batch/read", "/search"))
                                         or "/oauth/" in request.path):
            return False  # reads (and token grants) that happen to be POSTs
        return super().is_write(request)

    # -- checks before routing ----------------------------------------------------------------
    def check(self, request: Request) -> Response | None:
        if request.path.startswith("/oauth/"):
            return None  # the token endpoint answers in its own shape
        refusal = self.authenticate(request)
        if refusal is not None:
            return refusal
        if self.daily_limit is not None:
            with self._daily_lock:
                if self.daily_used >= self.daily_limit:
                    return self.rate_limited("DAILY")
                self.daily_used += 1
        return None

    def finalize(self, request: Request, response: Response) -> None:
        response.headers.setdefault(CORRELATION, str(uuid.uuid4()))
        limits = self.limits
        if limits.rate_limit is not None:
            response.headers["X-HubSpot-RateLimit-Max"] = str(limits.rate_limit)
            response.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] = str(
                int(limits.rate_window * 1000))
            response.headers["X-HubSpot-RateLimit-Remaining"] = str(
                max(0, limits.rate_limit - self._window_used(limits.rate_window)))
        token = self.token_of(request)
        if self.daily_limit is not None and token is not None and not token.oauth:
            response.headers["X-HubSpot-RateLimit-Daily"] = str(self.daily_limit)
            response.headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(
                max(0, self.daily_limit - self.daily_used))

    def _window_used(self, window: float) -> int:
        # The base's sliding window of admitted calls (read under its control lock).
        now = time.monotonic()
        with self._control:
            return sum(1 for moment in self._window.admitted if moment > now - window)

    # -- helpers of the route mixins ------------------------------------------------------------
    def body(self, request: Request) -> dict[str, Any]:
        data = request.json()
        if not isinstance(data, dict):
            raise Abort(self.bad_json(request))
        return data

    # -- control API: what HubSpot holds ----------------------------------------------------------
    def contact(self, email: str) -> dict[str, Any] | None:
        """The live contact with this email, every property included."""
        with self.lock:
            found = self.portal.find_email(email)
            return found.render(sorted(found.properties)) if found else None

    def contacts(self) -> dict[str, dict[str, Any]]:
        """Every live contact, keyed by email."""
        with self.lock:
            return {c.email: c.render(sorted(c.properties))
                    for c in self.portal.contacts.values() if not c.archived}

    def contact_emails(self) -> list[str]:
        """Emails of all live contacts, one per record (duplicates would show twice)."""
        with self.lock:
            return [c.email for c in self.portal.contacts.values() if not c.archived]

    def record_id(self, email: str) -> str | None:
        with self.lock:
            found = self.portal.find_email(email)
            return str(found.id) if found else None

    def add_list(self, name: str, processing_type: str = "MANUAL") -> str:
        with self.lock:
            return str(self.portal.list_create(name, processing_type, CONTACT_TYPE).id)

    def list_id(self, name: str) -> str | None:
        with self.lock:
            found = self.portal.list_by_name(name)
            return str(found.id) if found else None

    def list_members(self, list_ref: str) -> set[str]:
        """Emails in the list (by id or name); empty if there is no such list."""
        with self.lock:
            hs_list = self._list_ref(list_ref)
            if hs_list is None:
                return set()
            return {self.portal.contacts[i].email for i in self.portal.members(hs_list)}

    def list_remove(self, list_ref: str, email: str) -> None:
        """Someone takes a contact out of the list in HubSpot's UI (drift)."""
        with self.lock:
            hs_list = self._list_ref(list_ref)
            contact = self._existing(email)
            if hs_list is not None:
                self.portal.members_change(hs_list, [], [contact.id])

    def seed_contact(self, email: str, lists: Iterable[str] = (), **properties: str) -> str:
        """A contact created inside HubSpot (not by the CDP); returns its record id."""
        with self.lock:
            contact, _ = self.portal.upsert(email, properties)
            for list_ref in lists:
                hs_list = self._list_ref(list_ref)
                if hs_list is not None:
                    self.portal.members_change(hs_list, [contact.id], [])
            return str(contact.id)

    def set_opted_out(self, email: str, opted_out: bool = True) -> None:
        """The person unsubscribes from all email (hs_email_optout), as HubSpot records it."""
        with self.lock:
            self.portal.set_property(self._existing(email), "hs_email_optout",
                                     "true" if opted_out else "false")

    def edit_contact(self, email: str, **properties: str) -> None:
        """Someone edits the contact in HubSpot (drift the nightly read-back repairs)."""
        with self.lock:
            contact = self._existing(email)
            for name, value in properties.items():
                self.portal.set_property(contact, name, value)

    def archive_contact(self, email: str) -> None:
        with self.lock:
            self.portal.archive(self._existing(email))

    def gdpr_deleted(self) -> set[str]:
        """Emails deleted under GDPR (blocklisted)."""
        with self.lock:
            return set(self.portal.blocklist)

    def state(self) -> dict[str, Any]:
        """A JSON-able snapshot, for equality checks across runs."""
        with self.lock:
            portal = self.portal
            return {
                "contacts": {c.email: {"properties": dict(c.properties), "archived": c.archived}
                             for c in portal.contacts.values()},
                "lists": {x.name: sorted(portal.contacts[i].email for i in portal.members(x))
                          for x in portal.lists.values()},
                "blocklist": sorted(portal.blocklist),
            }

    def _existing(self, email: str) -> Contact:
        found = self.portal.find_email(email)
        if found is None:
            raise KeyError(email)
        return found

    def _list_ref(self, list_ref: str) -> HsList | None:
        if list_ref.isdigit():
            return self.portal.lists.get(int(list_ref))
        return self.portal.list_by_name(list_ref)


__all__ = ["CLIENT_ID", "CLIENT_SECRET", "DEFAULT_TOKEN", "REFRESH_TOKEN", "TOKEN_PATH",
           "HubspotFake", "hubspot_limits"]
