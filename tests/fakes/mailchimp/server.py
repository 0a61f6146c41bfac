"""The Mailchimp fake server: configuration, auth and the control API for tests.

Routes live in `members.py`, `segments.py` and `batches.py`, error shapes in `errors.py`,
the audience rules in `store.py`.
Faithful (connector doc, sections 1 and 5.2): the data-center host form (the `dc` of the
URL must match the key's suffix, else 403 WrongDatacenter), Basic auth with any user name
and the key as password, OAuth Bearer tokens and `/oauth2/metadata`, problem+json errors
with `X-Request-Id` equal to `instance`, `X-Trigger-Error`, the 10-connection cap answered
by 429 without `Retry-After`, 502/503/504 from the "gateway" as HTML.
Simplified: the `dc` travels in the path (`{url}/{dc}/3.0/...`) because every fake host is
127.0.0.1; a `Host: {dc}.api.mailchimp.com` header is honoured too.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from tests.fakes.base import (
    Abort,
    FakeServer,
    Faults,
    Limits,
    Request,
    Response,
    json_response,
)
from tests.fakes.mailchimp.batches import BatchRoutes
from tests.fakes.mailchimp.errors import GLOSSARY, MailchimpErrors
from tests.fakes.mailchimp.members import MemberRoutes
from tests.fakes.mailchimp.render import member_json
from tests.fakes.mailchimp.segments import SegmentRoutes
from tests.fakes.mailchimp.store import (
    REJECTED_DOMAINS,
    Account,
    Audience,
    Member,
    utc_now,
)

DEFAULT_KEY = "0123456789abcdef0123456789abcdef-us19"
DEFAULT_MERGE_FIELDS = ("FNAME", "LNAME", "PHONE", "BIRTHDAY", "ADDRESS", "COMPANY")
API = r"(?:/(?P<dc>[a-z]+\d+))?/3\.0"
_HOST = re.compile(r"(?P<dc>[a-z]+\d+)\.api\.mailchimp\.com(?::\d+)?", re.IGNORECASE)


def mailchimp_limits(service_time: float = 0.0) -> Limits:
    """Mailchimp's real limits: 10 requests in flight per user, no quota, no Retry-After."""
    return Limits(max_concurrent=10, retry_after=False, service_time=service_time)


class MailchimpFake(MemberRoutes, SegmentRoutes, BatchRoutes, MailchimpErrors, FakeServer):
    """A Mailchimp Marketing API v3 subset over real HTTP, with inspectable state."""

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_KEY,
        list_ids: Iterable[str] = ("a1b2c3d4e5",),
        merge_fields: Iterable[str] = DEFAULT_MERGE_FIELDS,
        required_merge_fields: Iterable[str] = (),
        rejected_domains: Iterable[str] = REJECTED_DOMAINS,
        resubscribe: str = "ignore",
        oauth_tokens: dict[str, str] | None = None,
        batch_limit: int = 500,
        max_count: int = 1000,
        pending_batch_limit: int = 500,
        batch_steps_per_poll: int = 1,
        clock: Callable[[], datetime] = utc_now,
        faults: Faults | None = None,
        limits: Limits | None = None,
        seed: int = 0,
        log_bodies: bool = True,
    ) -> None:
        super().__init__(
            faults=faults, limits=limits or mailchimp_limits(), seed=seed, log_bodies=log_bodies
        )
        if "-" not in api_key:
            raise ValueError("a Mailchimp API key ends with -<dc>, e.g. -us19")
        self.api_key = api_key
        self.dc = api_key.rsplit("-", 1)[1]
        self.api_keys = {api_key}  # tests may add or revoke keys
        self.oauth_tokens = dict(oauth_tokens or {})  # token -> dc
        self.batch_limit = batch_limit
        self.max_count = max_count
        self.pending_batch_limit = pending_batch_limit
        self.batch_steps_per_poll = batch_steps_per_poll
        self._list_config = (tuple(merge_fields), tuple(required_merge_fields))
        self._initial_lists = tuple(list_ids)
        self.account = Account(frozenset(rejected_domains), resubscribe, clock)
        self.reset_state()
        self.add_route("GET", API + r"/ping", self._ping)
        self.add_route("GET", r"/oauth2/metadata", self._oauth_metadata)
        self.register_member_routes(API)
        self.register_segment_routes(API)
        self.register_batch_routes(API)

    # -- URLs -----------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """The API root for this fake's key, like `https://us19.api.mailchimp.com/3.0`."""
        return f"{self.url}/{self.dc}/3.0"

    @property
    def base_url_template(self) -> str:
        """The same with a `{dc}` placeholder, for clients that derive the dc from the key."""
        return f"{self.url}/{{dc}}/3.0"

    # -- control API: state as the vendor holds it --------------------------------------
    def reset_state(self) -> None:
        with self.lock:
            self.account.audiences.clear()
            self.batches: dict[str, dict[str, Any]] = {}
            for list_id in self._initial_lists:
                self.add_list(list_id)

    def add_list(
        self,
        list_id: str,
        *,
        name: str = "Audience",
        merge_fields: Iterable[str] | None = None,
        required_merge_fields: Iterable[str] | None = None,
    ) -> str:
        default_fields, default_required = self._list_config
        with self.lock:
            self.account.audiences[list_id] = Audience(
                id=list_id,
                name=name,
                merge_fields=frozenset(merge_fields or default_fields),
                required_merge_fields=frozenset(required_merge_fields or default_required),
                account=self.account,
            )
        return list_id

    def audience(self, list_id: str | None = None) -> Audience:
        return self.account.audiences[list_id or self._initial_lists[0]]

    def members(self, list_id: str | None = None) -> dict[str, dict[str, Any]]:
        """Every member (archived included) as the API renders it, keyed by email."""
        with self.lock:
            audience = self.audience(list_id)
            return {m.email_address: member_json(audience, m) for m in audience.members.values()}

    def member(self, email: str, list_id: str | None = None) -> dict[str, Any] | None:
        with self.lock:
            audience = self.audience(list_id)
            found = audience.find(email)
            return member_json(audience, found) if found else None

    def tag_members(self, tag: str, list_id: str | None = None) -> set[str]:
        """Emails carrying `tag` and still on the audience."""
        with self.lock:
            audience = self.audience(list_id)
            segment = audience.segment_by_name(tag)
            if segment is None:
                return set()
            return {m.email_address for m in audience.segment_members(segment.id)}

    def forgotten(self, list_id: str | None = None) -> set[str]:
        """Subscriber hashes of permanently deleted members."""
        with self.lock:
            return set(self.audience(list_id).forgotten)

    def seed_member(
        self,
        email: str,
        *,
        status: str = "subscribed",
        merge_fields: dict[str, Any] | None = None,
        tags: Iterable[str] = (),
        list_id: str | None = None,
    ) -> dict[str, Any]:
        """Add a member as if someone had done it in Mailchimp's UI (drift, back-sync)."""
        with self.lock:
            audience = self.audience(list_id)
            data = {"email_address": email, "status": status, "merge_fields": merge_fields}
            member, _ = audience.upsert(data, skip_merge_validation=True)
            for tag in tags:
                audience.tag(member, tag, active=True)
            return member_json(audience, member)

    def set_status(self, email: str, status: str, list_id: str | None = None) -> None:
        """Vendor-side status change: the person unsubscribed, or the address was cleaned."""
        with self.lock:
            audience = self.audience(list_id)
            audience.set_status(self._existing(audience, email), status)

    def archive_member(self, email: str, list_id: str | None = None) -> None:
        with self.lock:
            audience = self.audience(list_id)
            audience.archive(self._existing(audience, email))

    def delete_member_permanently(self, email: str, list_id: str | None = None) -> None:
        with self.lock:
            audience = self.audience(list_id)
            audience.delete_permanent(self._existing(audience, email))

    def state(self) -> dict[str, Any]:
        """A JSON-able snapshot of all audiences, for equality checks across runs."""
        with self.lock:
            return {
                list_id: {
                    "members": {
                        m.email_address: {
                            "status": m.status,
                            "merge_fields": dict(m.merge_fields),
                            "tags": sorted(a.segments[t].name for t in m.tags),
                        }
                        for m in a.members.values()
                    },
                    "tags": sorted(s.name for s in a.segments.values()),
                    "forgotten": sorted(a.forgotten),
                }
                for list_id, a in self.account.audiences.items()
            }

    @staticmethod
    def _existing(audience: Audience, email: str) -> Member:
        member = audience.find(email)
        if member is None:
            raise KeyError(email)
        return member

    # -- auth and other checks before routing -------------------------------------------
    def check(self, request: Request) -> Response | None:
        if request.path.startswith("/_fake/"):
            return None  # batch results: a pre-signed download, no auth (like S3)
        if request.path.startswith("/oauth2/"):
            return None  # checked by the handler, with its own error shape
        key_dc = self._credential_dc(request.header("authorization"))
        if key_dc is None:
            missing = not request.header("authorization")
            code = "APIKeyMissing" if missing else "APIKeyInvalid"
            detail = (
                "Your request did not include an API key."
                if missing
                else "Your API key may be invalid, or you've attempted to access the wrong "
                "datacenter."
            )
            return self.problem(request, 401, GLOSSARY[code][1], detail)
        if self._request_dc(request) != key_dc:
            return self.problem(
                request,
                403,
                GLOSSARY["WrongDatacenter"][1],
                f"The API key provided is linked to datacenter '{key_dc}'.",
            )
        trigger = request.header("x-trigger-error")
        if trigger:
            status, title = GLOSSARY.get(trigger, GLOSSARY["BadRequest"])
            return self.problem(request, status, title, f"Triggered error: {trigger}.")
        return None

    def _credential_dc(self, authorization: str | None) -> str | None:
        scheme, _, value = (authorization or "").partition(" ")
        if scheme.lower() == "bearer":
            return self.oauth_tokens.get(value.strip())
        if scheme.lower() != "basic":
            return None
        try:
            _, _, key = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return key.rsplit("-", 1)[1] if key in self.api_keys and "-" in key else None

    @staticmethod
    def _request_dc(request: Request) -> str | None:
        match = re.match(API, request.path)
        if match and match.group("dc"):
            return match.group("dc")
        host = _HOST.fullmatch(request.header("host") or "")
        return host.group("dc") if host else None

    # -- shared helpers of the route mixins ---------------------------------------------
    def list_for(self, request: Request) -> Audience:
        audience = self.account.audiences.get(request.params["list_id"])
        if audience is None:
            raise Abort(self.not_found(request))
        return audience

    def body(self, request: Request) -> dict[str, Any]:
        data = request.json()
        if not isinstance(data, dict):
            raise Abort(self.bad_json(request))
        return data

    def page(self, request: Request, items: list[Any]) -> list[Any]:
        """Offset paging: `count` defaults to 10, at most `max_count` (1000), else 400."""
        try:
            count = int(request.query.get("count", 10))
            offset = int(request.query.get("offset", 0))
        except ValueError:
            count = offset = -1
        if not 1 <= count <= self.max_count or offset < 0:
            raise Abort(
                self.problem(
                    request,
                    400,
                    "Invalid Resource",
                    f"count must be between 1 and {self.max_count}; offset must be >= 0.",
                )
            )
        return items[offset : offset + count]

    # -- small routes -------------------------------------------------------------------
    def _ping(self, request: Request) -> Response:
        return json_response(200, {"health_status": "Everything's Chimpy!"})

    def _oauth_metadata(self, request: Request) -> Response:
        scheme, _, token = (request.header("authorization") or "").partition(" ")
        dc = self.oauth_tokens.get(token.strip()) if scheme.lower() in ("oauth", "bearer") else None
        if dc is None:
            return json_response(401, {"error": "invalid_token"})
        return json_response(
            200,
            {
                "dc": dc,
                "role": "owner",
                "accountname": "CDP test account",
                "user_id": 1,
                "login_url": "https://login.mailchimp.com",
                "api_endpoint": f"{self.url}/{dc}",
            },
        )
