"""The Salesforce fake server: configuration, sessions, the daily budget, the control API.

Routes live in `auth.py` (OAuth2), `sobjects.py` (records and sObject Collections),
`composite.py`, `query.py` (SOQL) and `bulk.py` (Bulk API 2.0); error shapes in
`errors.py`; record rules in `store.py`, the schema and ids in `schema.py`.
Faithful (connector doc 3 and 5.4): the token URL and the instance are both this
server (`instance_url` is its URL); every REST call needs `Authorization: Bearer <access
token>` of a live session, else 401 `INVALID_SESSION_ID`; every REST answer carries
`Sforce-Limit-Info: api-usage=used/max`, each authenticated call counts one request
(a composite or collection call counts once), and once the daily allocation is spent
calls get 403 `REQUEST_LIMIT_EXCEEDED` "TotalRequests Limit exceeded." until the test
frees it (`reset_budget`, the rolling 24 hours); `GET /limits` agrees with the header;
versions v41.0-v63.0 exist, others are 404; URLs over 16,384 bytes are 414.
Simplified: OAuth answers carry no limit header, do not count and skip the org's rate and
in-flight limits (they are served by the login host in reality); the in-flight cap of
`salesforce_limits()` applies to every API call, whereas Salesforce only counts calls
running 20 s or more; the request log marks only data changes as writes (the OAuth
token POST is not one).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from tests.fakes.base import (
    Abort,
    FakeServer,
    Faults,
    Limits,
    Request,
    RequestRecord,
    Response,
    json_response,
)
from tests.fakes.salesforce.auth import AuthRoutes
from tests.fakes.salesforce.bulk import BulkRoutes
from tests.fakes.salesforce.composite import CompositeRoutes
from tests.fakes.salesforce.errors import TOTAL_REQUESTS, SalesforceErrors, sf_error
from tests.fakes.salesforce.query import Cursor, QueryRoutes
from tests.fakes.salesforce.schema import Field, standard_types
from tests.fakes.salesforce.sobjects import SObjectRoutes
from tests.fakes.salesforce.store import REJECTED_DOMAINS, Org, Record, utc_now

DEFAULT_CLIENT_ID = "3MVG9cdpFakeConnectedAppConsumerKey"
DEFAULT_CLIENT_SECRET = "cdp-fake-consumer-secret"
DEFAULT_REFRESH_TOKEN = "5Aep861cdpFakeRefreshTokenForTheIntegrationUser"
DEFAULT_USER = "integration@cdp.test"
API = r"/services/data/v(?P<version>\d+\.\d)"
VERSIONS = tuple(f"{n}.0" for n in range(41, 64))
MAX_URL = 16_384


def salesforce_limits(service_time: float = 0.0) -> Limits:
    """Salesforce's limits as the fake applies them: 25 requests in flight, no per-second
    quota, never a Retry-After."""
    return Limits(max_concurrent=25, retry_after=False, service_time=service_time)


class SalesforceFake(AuthRoutes, SObjectRoutes, CompositeRoutes, QueryRoutes, BulkRoutes,
                     SalesforceErrors, FakeServer):
    """A Salesforce REST API subset over real HTTP, with inspectable state."""

    def __init__(
        self,
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        refresh_token: str = DEFAULT_REFRESH_TOKEN,
        rotate_refresh_tokens: bool = False,
        users: Iterable[str] = (DEFAULT_USER,),
        api_max: int = 100_000,
        external_id_field: str = "CDP_Id__c",
        custom_fields: Iterable[Field] = (),
        case_insensitive_external_ids: bool = False,
        rejected_domains: Iterable[str] = REJECTED_DOMAINS,
        campaigns: Iterable[str] = ("CDP: Brest",),
        query_page_size: int = 2000,
        collection_limit: int = 200,
        bulk_steps_per_poll: int = 1,
        bulk_seconds_per_record: float = 0.0,
        bulk_upload_limit: int = 150_000_000,
        clock: Callable[[], datetime] = utc_now,
        faults: Faults | None = None,
        limits: Limits | None = None,
        seed: int = 0,
        log_bodies: bool = True,
    ) -> None:
        super().__init__(faults=faults, limits=limits or salesforce_limits(), seed=seed,
                         log_bodies=log_bodies)
        self.clients = {client_id: client_secret}
        self.client_id, self.client_secret = client_id, client_secret
        self.users = set(users)
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.api_max = api_max
        self.query_page_size = query_page_size
        self.collection_limit = collection_limit
        self.bulk_steps_per_poll = bulk_steps_per_poll
        self.bulk_seconds_per_record = bulk_seconds_per_record
        self.bulk_upload_limit = bulk_upload_limit
        self._initial_refresh_token = refresh_token
        self._org_config = dict(
            external_id=external_id_field, extra=tuple(custom_fields),
            rejected_domains=frozenset(rejected_domains), clock=clock,
            case_insensitive=case_insensitive_external_ids,
        )
        self._initial_campaigns = tuple(campaigns)
        self._oauth = threading.local()
        self.reset_state()
        self.register_auth_routes()
        self.add_route("GET", r"/services/data/?", self._versions)
        self.add_route("GET", API + r"/?", self._resources)
        self.add_route("GET", API + r"/limits", self._limits)
        self.register_sobject_routes(API)
        self.register_composite_routes(API)
        self.register_query_routes(API)
        self.register_bulk_routes(API)

    # -- state ----------------------------------------------------------------------
    def reset_state(self) -> None:
        config = self._org_config
        with self.lock:
            self.org = Org(
                standard_types(config["external_id"], config["extra"]),
                rejected_domains=config["rejected_domains"],
                case_insensitive_external_ids=config["case_insensitive"],
                clock=config["clock"],
            )
            self.sessions: set[str] = set()
            self.refresh_token = self._initial_refresh_token
            self.refresh_tokens = {self.refresh_token}
            self.jobs: dict[str, dict[str, Any]] = {}
            self.cursors: dict[str, Cursor] = {}
            self.api_used = 0
            self.bulk_batches_used = 0
            self._token_counter = self._query_counter = self._job_counter = 0
            for name in self._initial_campaigns:
                self.add_campaign(name)

    # -- control API: the org as an admin sees it ----------------------------------------
    @property
    def token_url(self) -> str:
        return f"{self.url}/services/oauth2/token"

    def add_campaign(self, name: str, *, statuses: Iterable[str] = ("Sent", "Responded"),
                     active: bool = True) -> str:
        with self.lock:
            record = self.org.create(self.org.types["Campaign"], {"Name": name,
                                                                  "IsActive": active})
            self.org.member_statuses[record.id] = tuple(statuses)
            return record.id

    def campaign_id(self, name: str) -> str:
        with self.lock:
            return next(r.id for r in self.org.all("Campaign") if r.values["Name"] == name)

    def contacts(self, *, include_deleted: bool = False, type: str = "Contact") -> list[dict]:
        with self.lock:
            return [_plain(r) for r in self.org.all(type, include_deleted=include_deleted)]

    def recycle_bin(self, type: str = "Contact") -> list[dict[str, Any]]:
        with self.lock:
            return [_plain(r) for r in self.org.all(type, include_deleted=True) if r.deleted]

    def contact(self, email: str | None = None, *, external_id: str | None = None,
                type: str = "Contact") -> dict[str, Any] | None:
        """The live contact with this email (case-insensitive) or external id."""
        with self.lock:
            for record in self.org.all(type):
                if (email is not None
                        and str(record.values.get("Email") or "").lower() == email.lower()) or (
                        external_id is not None
                        and record.values.get(self._org_config["external_id"]) == external_id):
                    return _plain(record)
            return None

    def campaign_members(self, campaign_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [_plain(r) for r in self.org.members_of(campaign_id)
                    if r.values["CampaignId"] == campaign_id]

    def campaign_emails(self, campaign_id: str) -> set[str]:
        """Emails of the live people in the campaign."""
        with self.lock:
            emails = set()
            for member in self.org.members_of(campaign_id):
                if member.values["CampaignId"] != campaign_id:
                    continue
                person = self.org.get(member.values.get("ContactId")
                                      or member.values.get("LeadId") or "")
                if person is not None and person.values.get("Email"):
                    emails.add(person.values["Email"])
            return emails

    def seed_contact(self, values: dict[str, Any], *, type: str = "Contact") -> str:
        """Create a record as someone would in Salesforce's UI (drift, strangers)."""
        with self.lock:
            return self.org.create(self.org.types[type], values).id

    def add_to_campaign(self, campaign_id: str, person_id: str) -> str:
        with self.lock:
            field = "LeadId" if person_id.startswith("00Q") else "ContactId"
            return self.org.create(self.org.types["CampaignMember"],
                                   {"CampaignId": campaign_id, field: person_id}).id

    def remove_from_campaign(self, campaign_id: str, email: str) -> None:
        """Someone takes the person out of the campaign by hand (drift)."""
        with self.lock:
            for member in self.org.members_of(campaign_id):
                person = self.org.get(member.values.get("ContactId") or "")
                if person is not None and str(person.values.get("Email")).lower() == \
                        email.lower() and member.values["CampaignId"] == campaign_id:
                    self.org.delete(member)

    def set_opted_out(self, email: str, opted_out: bool = True) -> None:
        """The person clicks "unsubscribe" (Contact.HasOptedOutOfEmail)."""
        with self.lock:
            found = [r for r in self.org.all("Contact")
                     if str(r.values.get("Email") or "").lower() == email.lower()]
            if not found:
                raise KeyError(email)
            for record in found:
                record.values["HasOptedOutOfEmail"] = opted_out

    def set_api_usage(self, *, used: int | None = None, max: int | None = None) -> None:
        with self.lock:
            self.api_used = self.api_used if used is None else used
            self.api_max = self.api_max if max is None else max

    def reset_budget(self) -> None:
        """The rolling 24 hours have passed: the daily allocation is whole again."""
        self.set_api_usage(used=0)

    def state(self) -> dict[str, Any]:
        """A JSON-able snapshot of people and memberships, for equality across runs."""
        key = self._org_config["external_id"]
        with self.lock:
            people = {r.values.get(key) or r.id: {k: v for k, v in _plain(r).items()
                                                  if k not in _SYSTEM}
                      for r in self.org.all("Contact", include_deleted=True)}
            members = sorted((r.values["CampaignId"], r.values.get("ContactId") or "",
                              r.values.get("LeadId") or "", r.deleted)
                             for r in self.org.all("CampaignMember", include_deleted=True))
            return {"contacts": people, "campaign_members": members}

    # -- pipeline hooks -------------------------------------------------------------------
    def _pipeline(self, request: Request, record: RequestRecord, over: bool) -> Response | None:
        # The login host is not the org's API: the org's limits do not apply (faults do).
        self._oauth.active = request.path.startswith("/services/oauth2/")
        return super()._pipeline(request, record, over and not self._oauth.active)

    def _rate_check(self) -> float | None:
        return None if getattr(self._oauth, "active", False) else super()._rate_check()

    def is_write(self, request: Request) -> bool:
        return not request.path.startswith("/services/oauth2/") and super().is_write(request)

    def check(self, request: Request) -> Response | None:
        path = request.path
        if not path.startswith("/services/data/v"):
            return None  # OAuth (checked by its handler) or the version list (public)
        scheme, _, token = (request.header("authorization") or "").partition(" ")
        with self.lock:
            if scheme.lower() != "bearer" or token.strip() not in self.sessions:
                return self.auth_expired(request)
            if self.api_used >= self.api_max:
                return sf_error(403, "REQUEST_LIMIT_EXCEEDED", TOTAL_REQUESTS)
            self.api_used += 1
        if len(path) + len(urlencode(request.query)) + 1 > MAX_URL:
            return sf_error(414, "URI_TOO_LONG", "The request URI is too long")
        return None

    def finalize(self, request: Request, response: Response) -> None:
        response.headers.pop("Retry-After", None)  # Salesforce never sends one
        if request.path.startswith("/services/data/v"):
            with self.lock:
                usage = f"api-usage={self.api_used}/{self.api_max}"
            response.headers["Sforce-Limit-Info"] = usage

    # -- shared helpers of the route mixins -------------------------------------------------
    def api_version(self, request: Request, minimum: float | None = None) -> str:
        version = request.params.get("version", "")
        if version not in VERSIONS or (minimum is not None and float(version) < minimum):
            raise Abort(self.not_found(request))
        return version

    def body(self, request: Request) -> dict[str, Any]:
        data = request.json()
        if not isinstance(data, dict):
            raise Abort(self.bad_json(request))
        return data

    # -- small routes -----------------------------------------------------------------
    def _versions(self, request: Request) -> Response:
        return json_response(200, [{"label": f"v{v}", "url": f"/services/data/v{v}",
                                    "version": v} for v in VERSIONS])

    def _resources(self, request: Request) -> Response:
        version = self.api_version(request)
        root = f"/services/data/v{version}"
        return json_response(200, {name: f"{root}/{name}" for name in
                                   ("sobjects", "query", "queryAll", "limits", "composite",
                                    "jobs")})

    def _limits(self, request: Request) -> Response:
        self.api_version(request)
        with self.lock:
            return json_response(200, {
                "DailyApiRequests": {"Max": self.api_max,
                                     "Remaining": max(0, self.api_max - self.api_used)},
                "DailyBulkApiBatches": {"Max": 15_000,
                                        "Remaining": max(0, 15_000 - self.bulk_batches_used)},
                "DailyBulkV2QueryJobs": {"Max": 10_000, "Remaining": 10_000},
            })


_SYSTEM = ("CreatedDate", "LastModifiedDate", "SystemModstamp")


def _plain(record: Record) -> dict[str, Any]:
    return {"Id": record.id, "IsDeleted": record.deleted, **record.values}
