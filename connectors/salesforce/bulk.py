"""Bulk API 2.0 ingest jobs for large Salesforce runs (connector doc 3.6).

From the connector's bulk_threshold a run upserts its people through ingest jobs (one
per 100 MB of CSV; the vendor takes 150 MB, and counts batches, not calls, against the
org), polls each job until it ends, and reads successfulResults and failedResults back,
matched to members by the External ID (the profile id). Joiners then get their
CampaignMember rows through an insert job, where "Already a campaign member." counts as
done. Every call is checked against the daily budget; a job that fails as a whole or
outlives CDP_SALESFORCE_BULK_TIMEOUT_S (it is then aborted) leaves its members pending.
An empty CSV value leaves a field unchanged, as a field left out of a collection does.
"""

from __future__ import annotations

import csv
import io
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings

from connectors.base import ItemResult, OutMember
from connectors.salesforce.client import problem, refusal, scrub

if TYPE_CHECKING:
    from connectors.salesforce.connector import SalesforceConnector

UPLOAD_MAX = 100_000_000  # characters of CSV per job
JOBS = "/jobs/ingest"
ENDED = ("JobComplete", "Failed", "Aborted")


@dataclass
class JobOutcome:
    state: str
    error: str = ""
    succeeded: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)


def bulk_push(connector: SalesforceConnector, members: list[OutMember]) -> list[ItemResult]:
    """push() for a large change set: upsert job(s), then a CampaignMember insert job."""
    results: dict[uuid.UUID, ItemResult] = {}
    people: dict[uuid.UUID, str] = {}  # profile id -> record id, from successfulResults
    key = connector.external_id
    names = sorted({n for m in members for n in m.fields} - {key, "Email", "attributes"})
    header = [key, "Email", *names]
    rows = ([str(m.profile_id), m.email or "", *(_cell(m.fields.get(n)) for n in names)]
            for m in members)
    by_key = {str(m.profile_id): m for m in members}
    for data in _csv_chunks(header, rows):
        outcome = run_job(connector, {"object": connector.object, "operation": "upsert",
                                      "externalIdFieldName": key}, data)
        for row in outcome.succeeded:
            member = by_key.get(row.get(key, ""))
            if member is not None:
                people[member.profile_id] = row["sf__Id"]
                results[member.profile_id] = ItemResult(member.profile_id, True,
                                                        connector.remote_id(member))
        for row in outcome.failed:
            member = by_key.get(row.get(key, ""))
            if member is not None:
                error, retryable = _refusal(connector, row.get("sf__Error", ""))
                results[member.profile_id] = ItemResult(member.profile_id, False, error=error,
                                                        retryable=retryable)
        if outcome.state != "JobComplete":
            for member in members:
                results.setdefault(member.profile_id, ItemResult(
                    member.profile_id, False, retryable=True,
                    error=f"Bulk upsert job {outcome.state}: {outcome.error}"[:300]))
    joiners = [(m, people[m.profile_id]) for m in members
               if m.join and m.profile_id in people]
    if joiners:
        results.update(_join(connector, joiners))
    return [results.get(m.profile_id) or ItemResult(
        m.profile_id, False, error="not processed by the Bulk job", retryable=True)
        for m in members]


def _join(connector: SalesforceConnector,
          joiners: list[tuple[OutMember, str]]) -> dict[uuid.UUID, ItemResult]:
    link = connector.person_link
    header = ["CampaignId", link] + (["Status"] if connector.member_status else [])
    status = [connector.member_status] if connector.member_status else []
    rows = ([connector.campaign_id, person, *status] for _, person in joiners)
    by_person = {person: member for member, person in joiners}
    out: dict[uuid.UUID, ItemResult] = {}
    for data in _csv_chunks(header, rows):
        outcome = run_job(connector, {"object": "CampaignMember", "operation": "insert"}, data)
        done = [(r, True) for r in outcome.succeeded] + [
            (r, r.get("sf__Error", "").startswith("DUPLICATE_VALUE:")) for r in outcome.failed]
        for row, ok in done:
            member = by_person.get(row.get(link, ""))
            if member is None:
                continue
            error = "" if ok else f"campaign membership: {_refusal(connector, row['sf__Error'])[0]}"
            out[member.profile_id] = ItemResult(member.profile_id, ok,
                                                connector.remote_id(member),
                                                error=error[:300], retryable=not ok)
    for member, _ in joiners:
        out.setdefault(member.profile_id, ItemResult(
            member.profile_id, False, error="campaign membership not confirmed by the Bulk job",
            retryable=True))
    return out


def run_job(connector: SalesforceConnector, spec: dict[str, Any], data: bytes) -> JobOutcome:
    """Create an ingest job, upload its CSV, close it, poll it to its end, read results."""
    connector.sf.spend(4)
    created = connector.sf.call("POST", JOBS, write=True, json={
        **spec, "contentType": "CSV", "lineEnding": "LF", "columnDelimiter": "COMMA"})
    if created.status_code != 200:
        return JobOutcome("Failed", problem(created))
    job = f"{JOBS}/{created.json()['id']}"
    upload = connector.sf.call("PUT", f"{job}/batches", write=True, content=data,
                               headers={"Content-Type": "text/csv"})
    # A retried upload (or close) that had gone through is refused as a wrong job state.
    if upload.status_code != 201 and "INVALIDJOBSTATE" not in problem(upload):
        connector.sf.call("PATCH", job, write=True, json={"state": "Aborted"})
        return JobOutcome("Failed", f"upload refused: {problem(upload)}")
    connector.sf.call("PATCH", job, write=True, json={"state": "UploadComplete"})
    deadline = time.monotonic() + settings.CDP_SALESFORCE_BULK_TIMEOUT_S
    while True:
        connector.sf.spend(1)
        info = connector.sf.call("GET", job, write=False)
        if info.status_code != 200:
            return JobOutcome("Failed", f"job status: {problem(info)}")
        body = info.json()
        state = body.get("state", "")
        if state in ENDED or state == "Open":
            break
        if time.monotonic() > deadline:
            connector.sf.call("PATCH", job, write=True, json={"state": "Aborted"})
            return JobOutcome("Aborted", "timed out; aborted")
        if connector.progress is not None:
            connector.progress()
        time.sleep(settings.CDP_SALESFORCE_BULK_POLL_S)
    if state != "JobComplete":
        return JobOutcome(state, scrub(str(body.get("errorMessage") or "not closed")))
    connector.sf.spend(2)
    return JobOutcome(state, "", _results(connector, f"{job}/successfulResults"),
                      _results(connector, f"{job}/failedResults"))


def _results(connector: SalesforceConnector, path: str) -> list[dict[str, str]]:
    response = connector.sf.call("GET", path, write=False)
    if response.status_code != 200:
        return []  # members without a result stay pending
    return list(csv.DictReader(io.StringIO(response.text)))


def _csv_chunks(header: list[str], rows: Iterator[list[str]]) -> Iterator[bytes]:
    buffer, writer, count = _buffer(header)
    for row in rows:
        writer.writerow(row)
        count += 1
        if buffer.tell() >= UPLOAD_MAX:
            yield buffer.getvalue().encode()
            buffer, writer, count = _buffer(header)
    if count:
        yield buffer.getvalue().encode()


def _buffer(header: list[str]) -> tuple[io.StringIO, Any, int]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    return buffer, writer, 0


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _refusal(connector: SalesforceConnector, error: str) -> tuple[str, bool]:
    """sf__Error is "CODE:message:fields --"."""
    code, _, rest = error.partition(":")
    message = rest.removesuffix(" --").rsplit(":", 1)[0]
    return refusal(code or "UNKNOWN", message)
