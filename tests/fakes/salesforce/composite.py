"""`POST /composite`: up to 25 dependent subrequests in one API call.

Faithful (connector doc 3.4): at most 25 subrequests, of which at most 5 queries (more:
400); `@{referenceId.path}` in a later subrequest's URL or body takes a value from an
earlier answer (`@{c1.id}`, `@{q1.records[0].Id}`); the top level answers 200 with
`compositeResponse[{body, httpHeaders, httpStatusCode, referenceId}]` whatever the
subrequests did; with `allOrNone` a failure rolls every write back and the others report
`PROCESSING_HALTED`; a reference to a failed subrequest fails too. The whole call counts
once against the daily budget.
Simplified: subrequests skip the fake's injected faults and limits; `httpHeaders` only
carries `Location` for created records.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from tests.fakes.base import Abort, Request, Response, json_response
from tests.fakes.salesforce.errors import sf_error

if TYPE_CHECKING:
    from tests.fakes.salesforce.server import SalesforceFake

    _Base = SalesforceFake
else:
    _Base = object

MAX_SUBREQUESTS = 25
MAX_QUERIES = 5
_REFERENCE = re.compile(r"@\{(?P<ref>\w+)\.(?P<path>[\w.\[\]]+)\}")
HALTED = [{"errorCode": "PROCESSING_HALTED",
           "message": "The transaction was rolled back since another operation in the same "
                      "transaction failed."}]


class _Unresolved(Exception):
    pass


def _resolve(answers: dict[str, Any], ref: str, path: str) -> Any:
    if ref not in answers:
        raise _Unresolved(ref)
    value = answers[ref]
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        try:
            value = value[int(part[1:-1])] if part.startswith("[") else value[part]
        except (KeyError, IndexError, TypeError, ValueError):
            raise _Unresolved(ref) from None
    return value


class CompositeRoutes(_Base):
    def register_composite_routes(self, api: str) -> None:
        self.add_route("POST", api + r"/composite", self._composite)

    def _composite(self, request: Request) -> Response:
        self.api_version(request, minimum=42.0)
        data = self.body(request)
        subrequests = data.get("compositeRequest")
        if not isinstance(subrequests, list) or not all(
                isinstance(s, dict) and s.get("method") and s.get("url") and s.get("referenceId")
                for s in subrequests):
            raise Abort(sf_error(400, "JSON_PARSER_ERROR", "compositeRequest: each subrequest "
                                 "needs method, url and referenceId"))
        queries = sum(1 for s in subrequests if "/query" in s["url"])
        if len(subrequests) > MAX_SUBREQUESTS or queries > MAX_QUERIES:
            raise Abort(sf_error(400, "LIMIT_EXCEEDED",
                                 f"A composite request takes at most {MAX_SUBREQUESTS} "
                                 f"subrequests, of which at most {MAX_QUERIES} queries"))
        all_or_none = bool(data.get("allOrNone", False))
        saved = self.org.snapshot() if all_or_none else None
        answers: dict[str, Any] = {}
        out: list[dict[str, Any]] = []
        failed = False
        for sub in subrequests:
            ref = sub["referenceId"]
            if failed and all_or_none:
                out.append(_entry(ref, 400, HALTED))
                continue
            try:
                response = self._subrequest(request, sub, answers)
            except _Unresolved as exc:
                out.append(_entry(ref, 400, [{
                    "errorCode": "PROCESSING_HALTED",
                    "message": f"Invalid reference specified. No value for {exc} found."}]))
                failed = True
                continue
            body = json.loads(response.body) if response.body else None
            if response.status < 400:
                answers[ref] = body
            else:
                failed = True
            out.append(_entry(ref, response.status, body, response.headers.get("Location")))
        if failed and saved is not None:
            self.org.restore(saved)
            out = [e if e["httpStatusCode"] >= 400 else _entry(e["referenceId"], 400, HALTED)
                   for e in out]
        return json_response(200, {"compositeResponse": out})

    def _subrequest(self, request: Request, sub: dict[str, Any], answers: dict) -> Response:
        def substitute(text: str) -> str:
            return _REFERENCE.sub(
                lambda m: str(_resolve(answers, m.group("ref"), m.group("path"))), text)

        url = substitute(sub["url"])
        path, _, query = url.partition("?")
        body = b""
        if sub.get("body") is not None:
            body = substitute(json.dumps(sub["body"])).encode()
        inner = Request(sub["method"].upper(), path, dict(parse_qsl(query)),
                        {**request.headers, "content-type": "application/json"}, body)
        return self.dispatch(inner)


def _entry(ref: str, status: int, body: Any, location: str | None = None) -> dict[str, Any]:
    headers = {"Location": location} if location else {}
    return {"body": body, "httpHeaders": headers, "httpStatusCode": status, "referenceId": ref}
