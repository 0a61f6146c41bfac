"""Mailchimp batch operations (`/batches`): asynchronous bulk work for nightly runs.

Faithful to the connector doc (1.5): each operation is `{method, path, params, body,
operation_id}` with `body` a JSON *string*; a batch moves pending -> preprocessing ->
started -> finalizing -> finished over successive polls (`batch_steps_per_poll` steps
per GET); each operation succeeds or fails on its own; the results are a gzipped tar of a
JSON array of `{status_code, operation_id, response}` at `response_body_url`, served
without auth; the 501st unfinished batch gets 429.
Simplified: all operations run at once when the batch finishes, skipping faults and
limits; the tar holds one JSON file; batch webhooks are not implemented.
"""

from __future__ import annotations

import io
import json
import tarfile
from typing import TYPE_CHECKING, Any

from tests.fakes.base import Abort, Request, Response, json_response
from tests.fakes.mailchimp.store import iso

if TYPE_CHECKING:
    from tests.fakes.mailchimp.server import MailchimpFake

    _Base = MailchimpFake
else:
    _Base = object

STEPS = ("pending", "preprocessing", "started", "finalizing", "finished")
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})


class BatchRoutes(_Base):
    def register_batch_routes(self, api: str) -> None:
        self.add_route("POST", api + r"/batches", self._batch_create)
        self.add_route("GET", api + r"/batches", self._batch_list)
        self.add_route("GET", api + r"/batches/(?P<batch_id>[^/]+)", self._batch_get)
        self.add_route("DELETE", api + r"/batches/(?P<batch_id>[^/]+)", self._batch_delete)
        self.add_route("GET", r"/_fake/batch-results/(?P<batch_id>[^/]+)\.tar\.gz", self._results)

    def _batch_create(self, request: Request) -> Response:
        operations = self.body(request).get("operations")
        if not isinstance(operations, list) or not all(_valid(op) for op in operations):
            raise Abort(
                self.problem(
                    request,
                    400,
                    "Invalid Resource",
                    "Each operation needs a method, a path and, if any, a body as a JSON string.",
                )
            )
        unfinished = sum(1 for b in self.batches.values() if b["status"] != "finished")
        if unfinished >= self.pending_batch_limit:
            raise Abort(
                self.problem(
                    request,
                    429,
                    "Too Many Requests",
                    f"You have more than {self.pending_batch_limit} pending batches.",
                )
            )
        batch_id = f"{len(self.batches) + 1:010x}"
        self.batches[batch_id] = {
            "id": batch_id,
            "status": "pending",
            "total_operations": len(operations),
            "finished_operations": 0,
            "errored_operations": 0,
            "submitted_at": iso(self.account.clock()),
            "completed_at": "",
            "response_body_url": "",
            "_operations": operations,
            "_dc": request.params.get("dc") or self.dc,
            "_results": b"",
        }
        return json_response(200, _public(self.batches[batch_id]))

    def _batch_list(self, request: Request) -> Response:
        batches = [_public(b) for b in self.batches.values()]
        payload = {"batches": self.page(request, batches), "total_items": len(batches)}
        return json_response(200, payload)

    def _batch_get(self, request: Request) -> Response:
        batch = self._batch(request)
        step = min(STEPS.index(batch["status"]) + self.batch_steps_per_poll, len(STEPS) - 1)
        if STEPS[step] == "finished" and batch["status"] != "finished":
            self._run(batch)
        batch["status"] = STEPS[step]
        return json_response(200, _public(batch))

    def _batch_delete(self, request: Request) -> Response:
        del self.batches[self._batch(request)["id"]]
        return Response(204)

    def _results(self, request: Request) -> Response:
        batch = self.batches.get(request.params["batch_id"])
        if batch is None or batch["status"] != "finished":
            return Response(404, b"Not Found", {"Content-Type": "text/plain"})
        return Response(200, batch["_results"], {"Content-Type": "application/x-gzip"})

    def _batch(self, request: Request) -> dict[str, Any]:
        batch = self.batches.get(request.params["batch_id"])
        if batch is None:
            raise Abort(self.not_found(request))
        return batch

    def _run(self, batch: dict[str, Any]) -> None:
        results = []
        for op in batch["_operations"]:
            path = f"/{batch['_dc']}/3.0/{op['path'].lstrip('/')}"
            sub = Request(
                method=op["method"].upper(),
                path=path,
                query={k: str(v) for k, v in (op.get("params") or {}).items()},
                headers={"content-type": "application/json"},
                body=(op.get("body") or "").encode(),
            )
            response = self.dispatch(sub)
            results.append(
                {
                    "status_code": response.status,
                    "operation_id": op.get("operation_id"),
                    "response": response.body.decode() or "{}",
                }
            )
        batch["finished_operations"] = len(results)
        batch["errored_operations"] = sum(1 for r in results if r["status_code"] >= 400)
        batch["completed_at"] = iso(self.account.clock())
        batch["response_body_url"] = f"{self.url}/_fake/batch-results/{batch['id']}.tar.gz"
        batch["_results"] = _tar_gz(f"{batch['id']}.json", json.dumps(results).encode())


def _valid(op: Any) -> bool:
    return (
        isinstance(op, dict)
        and str(op.get("method", "")).upper() in METHODS
        and isinstance(op.get("path"), str)
        and isinstance(op.get("body", ""), str)
        and isinstance(op.get("params", {}), dict)
    )


def _public(batch: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in batch.items() if not k.startswith("_")} | {"_links": []}


def _tar_gz(name: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo(name)
        info.size = len(content)
        archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()
