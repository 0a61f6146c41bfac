"""HubSpot authentication: private-app tokens, the OAuth token endpoint, scopes.

Faithful to the connector doc (2.2): `Authorization: Bearer <token>` for both kinds;
`POST /oauth/v1/token` (also `/oauth/2026-03/token`), form-encoded, with
`grant_type=refresh_token` or `authorization_code`, answering `access_token`,
`refresh_token` (HubSpot's do not rotate), `expires_in` and `token_type`; an access token
past `expires_in` gets 401 EXPIRED_AUTHENTICATION ("expired N second(s) ago"), an unknown
or missing one 401 INVALID_AUTHENTICATION, a token without the route's scope 403
MISSING_SCOPES. Token-endpoint errors are `{status: "BAD_REFRESH_TOKEN" | "BAD_CLIENT_ID"
| "BAD_AUTH_CODE" | "BAD_GRANT_TYPE", message, correlationId}`.
Our choices: `BAD_CLIENT_SECRET` and `BAD_REDIRECT_URI` for those mismatches; a JSON body
on the token endpoint is refused like a missing grant; scopes are the four
`crm.objects.contacts.*` / `crm.lists.*` ones (gdpr-delete needs contacts write).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from tests.fakes.base import Request, Response, json_response
from tests.fakes.hubspot.errors import CORRELATION, hs_error

if TYPE_CHECKING:
    from tests.fakes.hubspot.server import HubspotFake

    _Base = HubspotFake
else:
    _Base = object

ALL_SCOPES = frozenset({"crm.objects.contacts.read", "crm.objects.contacts.write",
                        "crm.lists.read", "crm.lists.write"})
TOKEN_PATH = r"/oauth/(?:v1|v3|\d{4}-\d{2})/token"
_READ_POSTS = ("/batch/read", "/search")


@dataclass
class AccessToken:
    scopes: frozenset[str]
    expires_at: float  # time.monotonic()
    oauth: bool = True


@dataclass
class Grant:
    client_id: str
    scopes: frozenset[str]
    redirect_uri: str = ""


def required_scope(request: Request) -> str | None:
    path = request.path
    if "/lists" in path:
        kind = "crm.lists"
    elif "/contacts" in path:
        kind = "crm.objects.contacts"
    else:
        return None
    read = request.method == "GET" or (request.method == "POST" and path.endswith(_READ_POSTS))
    return f"{kind}.{'read' if read else 'write'}"


def _oauth_error(code: str, message: str) -> Response:
    correlation = str(uuid.uuid4())
    return json_response(400, {"status": code, "message": message,
                               "correlationId": correlation}, **{CORRELATION: correlation})


class AuthRoutes(_Base):
    def register_auth_routes(self) -> None:
        self.add_route("POST", TOKEN_PATH, self._token)

    # -- control API ----------------------------------------------------------------------
    def add_private_token(self, token: str, scopes: frozenset[str] = ALL_SCOPES) -> str:
        with self.lock:
            self.tokens[token] = AccessToken(frozenset(scopes), float("inf"), oauth=False)
        return token

    def revoke_token(self, token: str) -> None:
        with self.lock:
            self.tokens.pop(token, None)

    def add_refresh_token(self, refresh_token: str, scopes: frozenset[str] = ALL_SCOPES) -> str:
        with self.lock:
            self.grants[refresh_token] = Grant(self.client_id, frozenset(scopes))
        return refresh_token

    def revoke_refresh_token(self, refresh_token: str) -> None:
        with self.lock:
            self.grants.pop(refresh_token, None)

    def authorize(self, scopes: frozenset[str] = ALL_SCOPES,
                  redirect_uri: str = "https://cdp.test/oauth/callback") -> str:
        """The code HubSpot would send to the redirect URI after the user installs the app."""
        code = f"code-{uuid.uuid4().hex}"
        with self.lock:
            self.codes[code] = Grant(self.client_id, frozenset(scopes), redirect_uri)
        return code

    def expire_tokens(self) -> None:
        """Every OAuth access token issued so far expires now (the next call gets 401)."""
        with self.lock:
            for token in self.tokens.values():
                if token.oauth:
                    token.expires_at = min(token.expires_at, time.monotonic() - 0.001)

    def token_requests(self) -> int:
        return len(self.requests(path=TOKEN_PATH))

    # -- checks ---------------------------------------------------------------------------
    def token_of(self, request: Request) -> AccessToken | None:
        scheme, _, value = (request.header("authorization") or "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        return self.tokens.get(value.strip())

    def authenticate(self, request: Request) -> Response | None:
        with self.lock:
            token = self.token_of(request)
        if token is None:
            return hs_error(401, "Authentication credentials not found. This API supports "
                                 "OAuth 2.0 authentication and you can find more details at "
                                 "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                            category="INVALID_AUTHENTICATION")
        late = time.monotonic() - token.expires_at
        if late >= 0:
            expired = datetime.now(UTC) - timedelta(seconds=late)
            return hs_error(401, f"The OAuth token used to make this call expired {int(late)} "
                                 "second(s) ago.", category="EXPIRED_AUTHENTICATION",
                            context={"expire time": [expired.isoformat()]})
        scope = required_scope(request)
        if scope is not None and scope not in token.scopes:
            return hs_error(403, "This app hasn't been granted all required scopes to make this "
                                 "call. Read more about required scopes here: "
                                 "https://developers.hubspot.com/scopes.",
                            category="MISSING_SCOPES",
                            errors=[{"message": "One or more of the following scopes are "
                                                "required.",
                                     "context": {"requiredGranularScopes": [scope]}}],
                            links={"scopes": "https://developers.hubspot.com/scopes"})
        return None

    # -- the token endpoint ---------------------------------------------------------------
    def _token(self, request: Request) -> Response:
        form = {}
        if "application/x-www-form-urlencoded" in (request.header("content-type") or ""):
            form = dict(parse_qsl(request.body.decode("utf-8", "replace")))
        if form.get("client_id") != self.client_id:
            return _oauth_error("BAD_CLIENT_ID", "missing or unknown client id")
        if form.get("client_secret") != self.client_secret:
            return _oauth_error("BAD_CLIENT_SECRET", "missing or invalid client secret")
        grant_type = form.get("grant_type")
        if grant_type == "refresh_token":
            refresh_token = form.get("refresh_token", "")
            grant = self.grants.get(refresh_token)
            if grant is None or grant.client_id != form["client_id"]:
                return _oauth_error("BAD_REFRESH_TOKEN", "missing or unknown refresh token")
        elif grant_type == "authorization_code":
            grant = self.codes.pop(form.get("code", ""), None)
            if grant is None:
                return _oauth_error("BAD_AUTH_CODE", "missing or unknown auth code")
            if form.get("redirect_uri") != grant.redirect_uri:
                return _oauth_error("BAD_REDIRECT_URI", "redirect_uri does not match")
            refresh_token = f"rt-{uuid.uuid4()}"
            self.grants[refresh_token] = Grant(grant.client_id, grant.scopes)
        else:
            return _oauth_error("BAD_GRANT_TYPE", "grant_type must be refresh_token or "
                                                  "authorization_code")
        access_token = f"oat-{uuid.uuid4().hex}{uuid.uuid4().hex}"
        self.tokens[access_token] = AccessToken(grant.scopes,
                                                time.monotonic() + self.access_token_ttl)
        return json_response(200, {"token_type": "bearer", "refresh_token": refresh_token,
                                   "access_token": access_token,
                                   "expires_in": int(self.access_token_ttl)})
