"""`Authorization: Api-Key <key>` authentication, scope permissions, per-key throttling."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions, throttling

from cdp.models import ApiKey
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


def scope_required(scope: str) -> type[permissions.BasePermission]:
    """A permission class admitting keys that hold `scope` (or admin)."""

    class HasScope(permissions.BasePermission):
        message = f"this API key lacks the '{scope}' scope"

        def has_permission(self, request: Any, view: Any) -> bool:
            key = getattr(request, "auth", None)
            return isinstance(key, ApiKey) and key.has_scope(scope)

    HasScope.__name__ = f"HasScope_{scope}"
    return HasScope


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
