"""Salesforce OAuth2: the token endpoint and the sessions it opens.

Faithful (connector doc 3.2): `POST /services/oauth2/token` with a form body; the
refresh-token grant (client id and secret checked) and the JWT bearer grant; the answer
holds `access_token`, `instance_url` (here the fake's own URL), `id`, `token_type`,
`issued_at` (ms), `signature`, `scope` and no `expires_in`; with rotation on, each refresh
returns a new `refresh_token` and the old one stops working; a revoked or unknown refresh
token is 400 `invalid_grant` "expired access/refresh token"; OAuth errors are
`{error, error_description}` objects, not arrays. Sessions stay valid until the test
invalidates them (`invalidate_sessions`), standing for the org's inactivity timeout.
Simplified: the JWT signature is not verified (iss, sub, aud and exp are); no PKCE,
no web-server code exchange.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from tests.fakes.base import Request, Response, json_response
from tests.fakes.salesforce.schema import ORG_ID, USER_ID

if TYPE_CHECKING:
    from tests.fakes.salesforce.server import SalesforceFake

    _Base = SalesforceFake
else:
    _Base = object

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def _oauth_error(error: str, description: str, status: int = 400) -> Response:
    return json_response(status, {"error": error, "error_description": description})


def jwt_unsigned(claims: dict[str, Any]) -> str:
    """A JWT with these claims (signature not checked by the fake), for tests."""
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part(claims)}.c2lnbmF0dXJl"


class AuthRoutes(_Base):
    def register_auth_routes(self) -> None:
        self.add_route("POST", r"/services/oauth2/token", self._token)
        self.add_route("POST", r"/services/oauth2/revoke", self._revoke)

    # -- control API ----------------------------------------------------------------
    def invalidate_sessions(self) -> None:
        """Every access token stops working (the session timed out or was revoked)."""
        with self.lock:
            self.sessions.clear()

    def revoke_refresh_token(self, token: str | None = None) -> None:
        with self.lock:
            self.refresh_tokens.discard(token or self.refresh_token)

    def _issue(self, *, rotate_from: str | None = None) -> Response:
        self._token_counter += 1
        seed = f"{self._seed}:{self._token_counter}".encode()
        access = f"{ORG_ID[:15]}!AQ{hashlib.sha256(seed).hexdigest()[:40]}"
        self.sessions.add(access)
        issued = str(int(time.time() * 1000))
        signature = base64.b64encode(hashlib.sha256(f"{access}{issued}".encode()).digest())
        payload = {
            "access_token": access,
            "instance_url": self.url,
            "id": f"{self.url}/id/{ORG_ID}/{USER_ID}",
            "token_type": "Bearer",
            "issued_at": issued,
            "signature": signature.decode(),
            "scope": "api refresh_token",
        }
        if rotate_from is not None and self.rotate_refresh_tokens:
            new = f"5Aep{hashlib.sha256(b'r' + seed).hexdigest()[:60]}"
            self.refresh_tokens.discard(rotate_from)
            self.refresh_tokens.add(new)
            self.refresh_token = new
            payload["refresh_token"] = new
        return json_response(200, payload)

    # -- routes ---------------------------------------------------------------------
    def _token(self, request: Request) -> Response:
        try:
            form = dict(parse_qsl(request.body.decode(), keep_blank_values=True))
        except UnicodeDecodeError:
            form = {}
        form = {**request.query, **form}
        grant = form.get("grant_type", "")
        if grant == "refresh_token":
            if form.get("client_id") not in self.clients:
                return _oauth_error("invalid_client_id", "client identifier invalid")
            if self.clients[form["client_id"]] != form.get("client_secret"):
                return _oauth_error("invalid_client", "invalid client credentials")
            if form.get("refresh_token") not in self.refresh_tokens:
                return _oauth_error("invalid_grant", "expired access/refresh token")
            return self._issue(rotate_from=form["refresh_token"])
        if grant == JWT_GRANT:
            return self._jwt(form.get("assertion", ""))
        return _oauth_error("unsupported_grant_type", "grant type not supported")

    def _jwt(self, assertion: str) -> Response:
        try:
            claims = json.loads(base64.urlsafe_b64decode(
                assertion.split(".")[1] + "=" * (-len(assertion.split(".")[1]) % 4)))
        except (IndexError, ValueError, binascii.Error):
            return _oauth_error("invalid_grant", "invalid assertion")
        if not isinstance(claims, dict) or claims.get("iss") not in self.clients:
            return _oauth_error("invalid_client_id", "client identifier invalid")
        if claims.get("sub") not in self.users:
            return _oauth_error("invalid_grant", "user hasn't approved this consumer")
        if claims.get("aud") not in (self.url, "https://login.salesforce.com",
                                     "https://test.salesforce.com"):
            return _oauth_error("invalid_grant", "audience is invalid")
        if not isinstance(claims.get("exp"), int | float) or claims["exp"] < time.time():
            return _oauth_error("invalid_grant", "expired authorization code")
        return self._issue()

    def _revoke(self, request: Request) -> Response:
        token = dict(parse_qsl(request.body.decode(errors="replace"))).get("token", "")
        self.sessions.discard(token)
        self.refresh_tokens.discard(token)
        return Response(200)
