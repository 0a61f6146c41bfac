"""Salesforce error shapes: JSON arrays of `{message, errorCode, fields}`.

Faithful (connector doc 3.9, 3.10): every REST error is an array; an invalid session is
401 `INVALID_SESSION_ID`; the daily budget and the concurrent-request limit are both 403
`REQUEST_LIMIT_EXCEEDED` (never 429), told apart by the message ("TotalRequests Limit
exceeded." vs "ConcurrentPerOrgLongTxn Limit exceeded."); no `Retry-After` is ever sent,
whatever the fake's limits say; malformed JSON is 400 `JSON_PARSER_ERROR`; unknown
resources 404 `NOT_FOUND`. 500 is `UNKNOWN_EXCEPTION` with an ErrorId; 502/504 come as
HTML from the load balancer, 503 as `SERVER_UNAVAILABLE`.
Our choice: the base's per-window rate limit and in-flight cap (`Limits`) are answered as
Salesforce answers too many concurrent long-running requests (403, ConcurrentPerOrgLongTxn),
a refusal a client may retry after a pause, unlike the daily budget which only frees up
over the rolling 24 hours.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tests.fakes.base import Request, Response, json_response

SESSION_EXPIRED = "Session expired or invalid"
TOTAL_REQUESTS = "TotalRequests Limit exceeded."
CONCURRENT_REQUESTS = "ConcurrentPerOrgLongTxn Limit exceeded."


def sf_error(status: int, code: str, message: str, fields: list[str] | None = None,
             **headers: str) -> Response:
    item: dict[str, Any] = {"message": message, "errorCode": code}
    if fields:
        item["fields"] = fields
    return json_response(status, [item], **headers)


class SalesforceErrors:
    """Hooks of `FakeServer` answering in Salesforce's shapes."""

    def error(self, request: Request, status: int, code: str, message: str) -> Response:
        return sf_error(status, code, message)

    def throttled(self, request: Request) -> Response:
        return sf_error(403, "REQUEST_LIMIT_EXCEEDED", CONCURRENT_REQUESTS)

    def auth_expired(self, request: Request) -> Response:
        return sf_error(401, "INVALID_SESSION_ID", SESSION_EXPIRED)

    def server_error(self, request: Request, status: int) -> Response:
        if status == 500:
            return sf_error(500, "UNKNOWN_EXCEPTION",
                            "An unexpected error occurred. Please include this ErrorId if you "
                            "contact support: 1234567890-12345 (-1234567890)")
        if status == 503:
            return sf_error(503, "SERVER_UNAVAILABLE", "Server is unavailable")
        page = f"<html><body><h1>{status}</h1>Bad gateway.</body></html>".encode()
        return Response(status, page, {"Content-Type": "text/html"})

    def bad_json(self, request: Request) -> Response:
        return sf_error(400, "JSON_PARSER_ERROR",
                        "Unexpected character: was expecting a JSON value at [line:1, column:1]")

    def not_found(self, request: Request) -> Response:
        return sf_error(404, "NOT_FOUND", "The requested resource does not exist")

    def method_not_allowed(self, request: Request, allowed: Iterable[str]) -> Response:
        methods = ",".join(sorted(set(allowed)))
        return sf_error(405, "METHOD_NOT_ALLOWED",
                        f"HTTP Method '{request.method}' not allowed. Allowed are {methods}",
                        Allow=methods)
