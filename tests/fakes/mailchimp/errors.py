"""Mailchimp error shapes: problem+json with `X-Request-Id`, the glossary, gateway pages.

Faithful (connector doc 1.9): `type, title, status, detail, instance` on every error, the
request id header equal to `instance`, `errors[]` on validation failures, glossary titles,
the 429 wording of the connection cap. 502/503/504 come as HTML, as from a gateway.
Simplified: the bare, body-less 403 seen under very heavy load is not modelled.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from tests.fakes.base import Abort, Request, Response, json_response
from tests.fakes.mailchimp.store import MemberError

ERROR_DOCS = "https://mailchimp.com/developer/marketing/docs/errors/"
# Error glossary (connector doc 1.9), for `X-Trigger-Error`.
GLOSSARY = {
    "BadRequest": (400, "Bad Request"),
    "InvalidAction": (400, "Invalid Action"),
    "InvalidResource": (400, "Invalid Resource"),
    "JSONParseError": (400, "JSON Parse Error"),
    "APIKeyMissing": (401, "API Key Missing"),
    "APIKeyInvalid": (401, "API Key Invalid"),
    "Forbidden": (403, "Forbidden"),
    "UserDisabled": (403, "User Disabled"),
    "WrongDatacenter": (403, "Wrong Datacenter"),
    "ResourceNotFound": (404, "Resource Not Found"),
    "MethodNotAllowed": (405, "Method Not Allowed"),
    "ResourceNestingTooDeep": (414, "Resource Nesting Too Deep"),
    "InvalidMethodOverride": (422, "Invalid Method Override"),
    "RequestedFieldsInvalid": (426, "Requested Fields Invalid"),
    "TooManyRequests": (429, "Too Many Requests"),
    "InternalServerError": (500, "Internal Server Error"),
    "ComplianceRelated": (503, "Compliance Related"),
}


class MailchimpErrors:
    """Hooks of `FakeServer` answering in Mailchimp's shapes."""

    def problem(
        self,
        request: Request,
        status: int,
        title: str,
        detail: str,
        errors: list[dict[str, str]] | None = None,
    ) -> Response:
        instance = str(uuid.uuid4())
        payload: dict[str, Any] = {
            "type": ERROR_DOCS,
            "title": title,
            "status": status,
            "detail": detail,
            "instance": instance,
        }
        if errors:
            payload["errors"] = errors
        return json_response(
            status, payload, content_type="application/problem+json", **{"X-Request-Id": instance}
        )

    def refuse(self, request: Request, error: MemberError) -> Abort:
        return Abort(self.problem(request, error.status, error.title, error.detail, error.errors))

    def error(self, request: Request, status: int, code: str, message: str) -> Response:
        return self.problem(request, status, GLOSSARY.get(code, (status, code))[1], message)

    def throttled(self, request: Request) -> Response:
        return self.problem(
            request,
            429,
            "Too Many Requests",
            "You have exceeded the limit of 10 simultaneous connections.",
        )

    def auth_expired(self, request: Request) -> Response:
        # Mailchimp credentials do not expire; the switch models a revoked key or token.
        return self.problem(
            request, 401, "API Key Invalid", "Your API key may be invalid, or has been revoked."
        )

    def server_error(self, request: Request, status: int) -> Response:
        if status == 500:
            return self.problem(
                request,
                500,
                "Internal Server Error",
                "An unexpected internal error has occurred. Please contact Support for more "
                "information.",
            )
        page = f"<html><body><h1>{status}</h1>Gateway error.</body></html>".encode()
        return Response(status, page, {"Content-Type": "text/html"})

    def bad_json(self, request: Request) -> Response:
        return self.problem(
            request, 400, "JSON Parse Error", "We encountered an unspecified JSON parsing error."
        )

    def not_found(self, request: Request) -> Response:
        return self.problem(
            request, 404, "Resource Not Found", "The requested resource could not be found."
        )

    def method_not_allowed(self, request: Request, allowed: Iterable[str]) -> Response:
        response = self.problem(
            request,
            405,
            "Method Not Allowed",
            "The requested method and resource are not compatible. See the Allow header for "
            "this resource's available methods.",
        )
        response.headers["Allow"] = ", ".join(sorted(set(allowed)))
        return response

    def finalize(self, request: Request, response: Response) -> None:
        response.headers.setdefault("X-Request-Id", str(uuid.uuid4()))
