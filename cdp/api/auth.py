"""`Authorization: Api-Key <key>` authentication, scope permissions, per-key throttling."""

import uuid
from collections.abc import Mapping
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions, throttling

from cdp.models import ApiKey
from cdp.roles import access_denied_record
from cdp.services.api_keys import api_key_authenticate


class ApiKeyUser:
    """The caller behind an API key, as DRF's request.user."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, key: ApiKey):
        self.key = key

    @property
    def actor(self) -> str:
        return f"api-key:{self.key.name}"

    def __str__(self) -> str:
        return self.actor


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Api-Key"

    def authenticate(self, request: Any) -> tuple[ApiKeyUser, ApiKey] | None:
        header = request.headers.get("Authorization", "")
        if not header:
            return None
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != self.keyword.lower() or not raw.strip():
            raise exceptions.AuthenticationFailed("expected 'Authorization: Api-Key <key>'")
        key = api_key_authenticate(raw)
        if key is None:
            raise exceptions.AuthenticationFailed("invalid or revoked API key")
        return ApiKeyUser(key), key

    def authenticate_header(self, request: Any) -> str:
        return self.keyword


class ApiKeySchema(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`; keys are made with `manage.py create_api_key`.",
        }


def scope_required(*scopes: str, personal_data: bool = False) -> type[permissions.BasePermission]:
    """A permission class admitting keys that hold one of `scopes` (admin holds all).

    personal_data: the endpoint reads, exports or acts on personal data, so a refused key
    leaves an "access.denied" audit row (one place for every such endpoint).
    """
    needed = " or ".join(f"'{scope}'" for scope in scopes)

    class HasScope(permissions.BasePermission):
        message = f"this API key lacks the {needed} scope"

        def has_permission(self, request: Any, view: Any) -> bool:
            key = getattr(request, "auth", None)
            allowed = isinstance(key, ApiKey) and any(key.has_scope(s) for s in scopes)
            if allowed or not personal_data or not isinstance(key, ApiKey):
                return allowed
            if _first_refusal(request):
                _record_refusal(request, view, key, scopes)
            return False

    HasScope.__name__ = f"HasScope_{'_'.join(scopes)}"
    return HasScope


def _first_refusal(request: Any) -> bool:
    """True once per HTTP request, for the request actually made: DRF asks again on clones
    of it (browsable API forms, OPTIONS metadata: "may this key also POST?"), and those
    are no attempts."""
    original = getattr(request, "_request", request)
    if request.method == "OPTIONS" or original.method != request.method:
        return False
    if getattr(original, "_cdp_refusal_recorded", False):
        return False
    original._cdp_refusal_recorded = True
    return True


def _record_refusal(request: Any, view: Any, key: ApiKey, scopes: tuple[str, ...]) -> None:
    access_denied_record(
        actor=f"api-key:{key.name}", channel="api", attempted=type(view).__name__,
        profile_id=_subject(request, view),
        details={"method": request.method, "path": request.path, "needed": list(scopes),
                 "scopes": list(key.scopes)},
    )


def _subject(request: Any, view: Any) -> uuid.UUID | None:
    """The profile the refused request was about, when it names one: in the URL, the
    `subject` filter of an export, or a DSAR body's profile_id (never an email or phone)."""
    value = getattr(view, "kwargs", {}).get("profile_id") or request.query_params.get("subject")
    if not value and request.method == "POST":
        try:
            data = request.data
        except exceptions.APIException:  # unparsable body: no subject to name
            data = None
        value = data.get("profile_id") if isinstance(data, Mapping) else None
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


class ApiKeyRateThrottle(throttling.SimpleRateThrottle):
    """One request budget per API key; a key's own `rate` overrides the default."""

    scope = "api_key"

    def allow_request(self, request: Any, view: Any) -> bool:
        key = getattr(request, "auth", None)
        if isinstance(key, ApiKey) and key.rate:
            self.rate = key.rate
            self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        key = getattr(request, "auth", None)
        if not isinstance(key, ApiKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": key.pk}
