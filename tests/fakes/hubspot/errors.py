"""HubSpot error shapes: `{status, message, correlationId, category, ...}` and the 429 body.

Faithful (connector doc 2.8, 2.9): every error carries `status: "error"`, a message and a
UUID `correlationId`, also sent as the `x-hubspot-correlation-id` header (on successes
too); categories VALIDATION_ERROR, INVALID_AUTHENTICATION, EXPIRED_AUTHENTICATION,
MISSING_SCOPES, OBJECT_NOT_FOUND; the 429 body has its own shape (`errorType`,
`policyName`, `groupName`). 502/504 come as HTML, as from the CDN in front of the API.
Simplified: the 404/405 of unknown routes use the JSON shape.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from tests.fakes.base import Abort, Request, Response, json_response
from tests.fakes.hubspot.store import PortalError

CORRELATION = "x-hubspot-correlation-id"


def hs_error(
    status: int,
    message: str,
    *,
    category: str | None = None,
    sub_category: str | None = None,
    context: dict[str, Any] | None = None,
    errors: list[dict[str, Any]] | None = None,
    links: dict[str, str] | None = None,
) -> Response:
    correlation = str(uuid.uuid4())
    payload: dict[str, Any] = {"status": "error", "message": message,
                               "correlationId": correlation}
    if category:
        payload["category"] = category
    if sub_category:
        payload["subCategory"] = sub_category
    if context:
        payload["context"] = context
    if errors:
        payload["errors"] = errors
    if links:
        payload["links"] = links
    return json_response(status, payload, **{CORRELATION: correlation})


def portal_error(error: PortalError) -> Response:
    return hs_error(error.status, error.message, category=error.category,
                    sub_category=error.sub_category, context=error.context or None)


def item_error(error: PortalError, trace_id: str) -> dict[str, Any]:
    """One entry of a multi-status `errors[]` (a StandardError carrying the trace id)."""
    out: dict[str, Any] = {"status": "error", "category": error.category,
                           "message": error.message,
                           "context": {**error.context, "objectWriteTraceId": [trace_id]},
                           "errors": [], "links": {}}
    if error.sub_category:
        out["subCategory"] = error.sub_category
    return out


class HubspotErrors:
    """Hooks of `FakeServer` answering in HubSpot's shapes."""

    def refuse(self, error: PortalError) -> Abort:
        return Abort(portal_error(error))

    def error(self, request: Request, status: int, code: str, message: str) -> Response:
        return hs_error(status, message, category=code)

    def throttled(self, request: Request) -> Response:
        return self.rate_limited("TEN_SECONDLY_ROLLING")

    def rate_limited(self, policy: str) -> Response:
        correlation = str(uuid.uuid4())
        payload = {"status": "error",
                   "message": f"You have reached your {policy.lower()} limit.",
                   "errorType": "RATE_LIMIT", "correlationId": correlation,
                   "policyName": policy, "groupName": "api"}
        return json_response(429, payload, **{CORRELATION: correlation})

    def auth_expired(self, request: Request) -> Response:
        return hs_error(401, "The OAuth token used to make this call expired 0 second(s) ago.",
                        category="EXPIRED_AUTHENTICATION",
                        context={"expire time": ["1970-01-01T00:00:00.000Z"]})

    def server_error(self, request: Request, status: int) -> Response:
        if status in (502, 504):
            page = f"<html><body><h1>{status}</h1>Gateway error.</body></html>".encode()
            return Response(status, page, {"Content-Type": "text/html"})
        return hs_error(status, "internal error", category="INTERNAL_ERROR")

    def bad_json(self, request: Request) -> Response:
        return hs_error(400, "Invalid input JSON on line 1, column 1: Cannot build the request "
                             "body from the given JSON", category="VALIDATION_ERROR")

    def not_found(self, request: Request) -> Response:
        return hs_error(404, "resource not found", category="OBJECT_NOT_FOUND")

    def method_not_allowed(self, request: Request, allowed: Iterable[str]) -> Response:
        response = hs_error(405, "Method not allowed", category="VALIDATION_ERROR")
        response.headers["Allow"] = ", ".join(sorted(set(allowed)))
        return response
