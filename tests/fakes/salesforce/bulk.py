"""Bulk API 2.0 ingest jobs: create, upload CSV, close, poll, read the results.

Faithful (connector doc 3.6): `POST /jobs/ingest` (operations insert, update, upsert with
`externalIdFieldName`, delete, hardDelete; contentType CSV; lineEnding LF or CRLF) answers
the job info in state `Open`; `PUT /jobs/ingest/{id}/batches` (text/csv, once per job,
at most `bulk_upload_limit` bytes, else 400) answers 201; `PATCH {"state":
"UploadComplete"|"Aborted"}`; each `GET /jobs/ingest/{id}` moves UploadComplete ->
InProgress -> JobComplete (`bulk_steps_per_poll` steps per poll, and not before
`bulk_seconds_per_record` x rows have passed since the close, when set) with
`numberRecordsProcessed` / `numberRecordsFailed`; a header naming an unknown field or data
whose line ending differs from the job's fails the whole job (`state: Failed`,
`errorMessage`); `successfulResults` is CSV `sf__Id, sf__Created` + the input columns,
`failedResults` `sf__Id, sf__Error` ("CODE:message:fields --") + the input columns,
`unprocessedrecords` the input rows never processed (an aborted job's); in CSV an empty
value leaves the field unchanged and `#N/A` sets it to null; `delete` goes to the Recycle
Bin, `hardDelete` removes for good; each job takes `ceil(rows / 10,000)` of the daily
batch allocation.
Simplified: records are processed all at once when the job completes, skipping faults and
limits; no PK chunking, serial mode, or query jobs.
"""

from __future__ import annotations

import csv
import io
import math
import time
from typing import TYPE_CHECKING, Any

from tests.fakes.base import Abort, Request, Response, json_response
from tests.fakes.salesforce.errors import sf_error
from tests.fakes.salesforce.schema import PREFIXES, USER_ID, make_id
from tests.fakes.salesforce.store import MultipleMatches, RecordError, sf_datetime

if TYPE_CHECKING:
    from tests.fakes.salesforce.server import SalesforceFake

    _Base = SalesforceFake
else:
    _Base = object

OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
STEPS = ("UploadComplete", "InProgress", "JobComplete")
JOB = r"/jobs/ingest/(?P<job_id>\w+)"


def _job_error(message: str, status: int = 400) -> Abort:
    return Abort(sf_error(status, "INVALIDJOB", message))


class BulkRoutes(_Base):
    def register_bulk_routes(self, api: str) -> None:
        self.add_route("POST", api + r"/jobs/ingest", self._job_create)
        self.add_route("GET", api + r"/jobs/ingest", self._job_list)
        self.add_route("GET", api + JOB, self._job_get)
        self.add_route("PATCH", api + JOB, self._job_state)
        self.add_route("DELETE", api + JOB, self._job_delete)
        self.add_route("PUT", api + JOB + r"/batches", self._job_upload)
        for name in ("successfulResults", "failedResults", "unprocessedrecords"):
            self.add_route("GET", api + JOB + "/" + name, self._results)

    # -- routes -----------------------------------------------------------------------
    def _job_create(self, request: Request) -> Response:
        version = self.api_version(request, minimum=41.0)
        data = self.body(request)
        operation = data.get("operation")
        if operation not in OPERATIONS:
            raise _job_error(f"InvalidJob : Invalid operation: {operation}")
        sobject = self.org.type(str(data.get("object", "")))
        if sobject is None:
            raise _job_error(f"InvalidJob : Entity type '{data.get('object')}' is not supported")
        external = data.get("externalIdFieldName")
        if operation == "upsert":
            key = sobject.field(str(external or ""))
            if key is None or not (key.external_id or key.id_lookup):
                raise _job_error(f"InvalidJob : External ID was blank or not an External ID "
                                 f"field for {sobject.name}")
            external = key.name
        if data.get("contentType", "CSV") != "CSV" or data.get("columnDelimiter", "COMMA") \
                != "COMMA":
            raise _job_error("InvalidJob : only contentType CSV with COMMA is supported here")
        if data.get("lineEnding", "LF") not in ("LF", "CRLF"):
            raise _job_error("InvalidJob : lineEnding must be LF or CRLF")
        self._job_counter += 1
        job_id = make_id(PREFIXES["Job"], self._job_counter)
        now = sf_datetime(self.org.clock())
        self.jobs[job_id] = {
            "id": job_id, "operation": operation, "object": sobject.name,
            "createdById": USER_ID, "createdDate": now, "systemModstamp": now,
            "state": "Open", "externalIdFieldName": external, "concurrencyMode": "Parallel",
            "contentType": "CSV", "apiVersion": float(version), "jobType": "V2Ingest",
            "lineEnding": data.get("lineEnding", "LF"), "columnDelimiter": "COMMA",
            "numberRecordsProcessed": 0, "numberRecordsFailed": 0, "retries": 0,
            "totalProcessingTime": 0, "errorMessage": None,
            "contentUrl": f"services/data/v{version}/jobs/ingest/{job_id}/batches",
            "_data": None, "_success": [], "_failed": [], "_unprocessed": [], "_columns": [],
            "_ready_at": 0.0,
        }
        return json_response(200, _public(self.jobs[job_id]))

    def _job_list(self, request: Request) -> Response:
        self.api_version(request)
        records = [_public(j) for j in self.jobs.values()]
        return json_response(200, {"done": True, "records": records, "nextRecordsUrl": None})

    def _job_upload(self, request: Request) -> Response:
        self.api_version(request)
        job = self._job(request)
        if job["state"] != "Open" or job["_data"] is not None:
            raise Abort(sf_error(400, "INVALIDJOBSTATE",
                                 f"Found multiple contents for job: <{job['id']}>, please "
                                 "'Close' / 'Abort' / 'Delete' the current Job then create a "
                                 "new Job and make sure the 'Content-Type' is correct."))
        if "text/csv" not in (request.header("content-type") or ""):
            raise Abort(sf_error(400, "INVALIDCONTENTTYPE",
                                 "Content-Type must be text/csv for this job"))
        if len(request.body) > self.bulk_upload_limit:
            raise Abort(sf_error(400, "INVALIDBATCH",
                                 f"Upload exceeds the limit of {self.bulk_upload_limit} bytes"))
        job["_data"] = request.body
        return Response(201)

    def _job_state(self, request: Request) -> Response:
        self.api_version(request)
        job = self._job(request)
        state = self.body(request).get("state")
        if state == "Aborted" and job["state"] in ("Open", "UploadComplete", "InProgress"):
            job["state"] = "Aborted"
            if job["_data"]:
                _, job["_unprocessed"] = self._parse(job, job["_data"])
        elif state == "UploadComplete" and job["state"] == "Open":
            job["state"] = "UploadComplete"
            if not job["_data"]:
                job["state"], job["errorMessage"] = "Failed", "No data was uploaded for the job"
            else:  # the job's processing time, if the fake models one
                rows = job["_data"].count(b"\n") - 1
                job["_ready_at"] = time.monotonic() + rows * self.bulk_seconds_per_record
        else:
            raise Abort(sf_error(400, "INVALIDJOBSTATE",
                                 f"Invalid job state transition from {job['state']} to {state}"))
        job["systemModstamp"] = sf_datetime(self.org.clock())
        return json_response(200, _public(job))

    def _job_get(self, request: Request) -> Response:
        self.api_version(request)
        job = self._job(request)
        if job["state"] in STEPS[:-1]:
            step = min(STEPS.index(job["state"]) + self.bulk_steps_per_poll, len(STEPS) - 1)
            if STEPS[step] == "JobComplete" and time.monotonic() < job["_ready_at"]:
                job["state"] = "InProgress"
            elif STEPS[step] == "JobComplete":
                self._process(job)
            else:
                job["state"] = STEPS[step]
        return json_response(200, _public(job))

    def _job_delete(self, request: Request) -> Response:
        self.api_version(request)
        job = self._job(request)
        if job["state"] not in ("JobComplete", "Failed", "Aborted", "UploadComplete", "Open"):
            raise Abort(sf_error(400, "INVALIDJOBSTATE", "Cannot delete a job in progress"))
        del self.jobs[job["id"]]
        return Response(204)

    def _results(self, request: Request) -> Response:
        self.api_version(request)
        job = self._job(request)
        name = request.path.rsplit("/", 1)[1]
        if job["state"] not in ("JobComplete", "Failed", "Aborted"):
            raise Abort(sf_error(400, "INVALIDJOBSTATE",
                                 "Results are available once the job is complete"))
        columns = job["_columns"]
        if name == "successfulResults":
            head, rows = ["sf__Id", "sf__Created", *columns], job["_success"]
        elif name == "failedResults":
            head, rows = ["sf__Id", "sf__Error", *columns], job["_failed"]
        else:
            head, rows = list(columns), job["_unprocessed"]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
        writer.writerow(head)
        writer.writerows(rows)
        return Response(200, out.getvalue().encode(), {"Content-Type": "text/csv"})

    # -- processing -------------------------------------------------------------------
    def _job(self, request: Request) -> dict[str, Any]:
        job = self.jobs.get(request.params["job_id"])
        if job is None:
            raise Abort(sf_error(404, "NOT_FOUND", "The requested resource does not exist"))
        return job

    def _parse(self, job: dict[str, Any], data: bytes) -> tuple[list[str], list[list[str]]]:
        text = data.decode("utf-8-sig")
        crlf = "\r\n" in text
        if crlf != (job["lineEnding"] == "CRLF") and "\n" in text:
            raise ValueError(f"ClientInputError : LineEnding is invalid on user data. Current "
                             f"LineEnding setting is {job['lineEnding']}")
        rows = list(csv.reader(io.StringIO(text)))
        if not rows:
            raise ValueError("ClientInputError : no header row")
        return rows[0], [r for r in rows[1:] if r]

    def _process(self, job: dict[str, Any]) -> None:
        try:
            columns, rows = self._parse(job, job["_data"])
        except ValueError as exc:
            job["state"], job["errorMessage"] = "Failed", str(exc)
            return
        sobject = self.org.types[job["object"]]
        unknown = [c for c in columns if sobject.field(c) is None]
        if unknown:
            job["state"] = "Failed"
            job["errorMessage"] = f"InvalidBatch : Field name not found : {unknown[0]}"
            return
        names = [sobject.field(c).name for c in columns]
        job["_columns"] = columns
        self.bulk_batches_used += max(1, math.ceil(len(rows) / 10_000))
        for row in rows:
            values = {n: _cell(sobject.field(n), v) for n, v in zip(names, row, strict=False)
                      if v != ""}
            try:
                record_id, created = self._apply(job, sobject, values)
            except RecordError as exc:
                job["_failed"].append(["", exc.as_csv(), *row])
                continue
            job["_success"].append([record_id, "true" if created else "false", *row])
        job["numberRecordsProcessed"] = len(rows)
        job["numberRecordsFailed"] = len(job["_failed"])
        job["state"] = "JobComplete"

    def _apply(self, job: dict[str, Any], sobject: Any, values: dict[str, Any]) -> tuple:
        operation = job["operation"]
        if operation == "insert":
            return self.org.create(sobject, values).id, True
        if operation == "upsert":
            key = sobject.field(job["externalIdFieldName"])
            value = values.pop(key.name, None)
            try:
                record, created = self.org.upsert(sobject, key, value, values)
            except MultipleMatches as exc:
                ids = ", ".join(r.id for r in exc.records)
                raise RecordError("DUPLICATE_EXTERNAL_ID", f"more than one record found for "
                                  f"external id field: [{ids}]", [key.name]) from None
            return record.id, created
        target = self._live(values.pop("Id", None))
        if target.type != sobject.name:
            raise RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
        if operation == "update":
            self.org.update(sobject, target, values)
        else:
            self.org.delete(target, hard=operation == "hardDelete")
        return target.id, False


def _cell(f: Any, value: str) -> Any:
    if value == "#N/A":
        return None
    if f.kind == "boolean":
        return {"true": True, "false": False, "1": True, "0": False}.get(value.lower(), value)
    if f.kind == "double":
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _public(job: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in job.items() if not k.startswith("_")}
