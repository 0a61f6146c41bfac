#!/usr/bin/env python
"""A vendor fake in a process of its own, for benchmarks/sync.py, and the client side.

The vendors: Mailchimp, HubSpot, Salesforce. In the benchmark's process the fake's
handler threads would compete with the engine for the GIL and distort members/s, so it
runs here. It prints one JSON line (what a destination needs: `url` and the vendor's
credentials), then answers JSON commands read from stdin, one a line, with one JSON line
on stdout. The control channel is a pipe, not HTTP, so control calls never show in the
fake's request log, count against its limits or draw its faults.

Limits are the vendors' real ones, with a fixed service time per call: Mailchimp 10
calls in flight; HubSpot 190 calls per rolling 10 s (Professional, the fake's default);
Salesforce 25 calls in flight, Bulk API 2.0 jobs taking `--bulk-record-s` a record.

Commands: `{"cmd": "stats"}` (calls seen since the last `clear_log`, split by write/read,
route, status and fault, with the fake's own time per call), `clear_log`, `inject` (fault
fields, e.g. `{"cmd": "inject", "fail_rate": 0.1}`), `new_container` (`name`: a new
Mailchimp list and tag; for HubSpot and Salesforce a fresh portal or org, as before a
first sync, holding one new list or campaign; answers the sync's container),
`audience` (`container`: the emails it holds), `merge_fields` (Mailchimp: `emails`,
`list_id`), `quit`. FakeProcess starts and drives it; fake_ceiling and
salesforce_ceiling time a bare client against it.
"""

import argparse
import base64
import http.client
import json
import re
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

VENDORS = ("mailchimp", "hubspot", "salesforce")
CONNECTIONS, BATCH = 10, 500  # Mailchimp: 10 simultaneous connections, 500 members a call
SF_IN_FLIGHT, SF_BATCH = 25, 200  # Salesforce: 25 calls in flight, 200 records a collection
SF_API = "/services/data/v62.0"


def _route(path: str) -> str:
    """Ids and versions as `*`: /crm/v3/lists/12/memberships/add -> /crm/*/lists/*/..."""
    return re.sub(r"[^/]*\d[^/]*", "*", path)


def _member_write(vendor: str, method: str, route: str) -> bool:
    """Calls that carry members (Mailchimp's tag creation is not one)."""
    if vendor == "mailchimp":
        return method == "POST" and route.endswith("/lists/*")
    return True


def _stats(fake: Any, vendor: str) -> dict[str, Any]:
    log = fake.requests()
    answered = [r for r in log if r.status is not None and r.fault is None]
    durations = [r.duration for r in answered]
    sends = [r for r in log if r.write and _member_write(vendor, r.method, _route(r.path))]
    return {
        "calls": len(log),
        "write_calls": sum(r.write for r in log),
        "read_calls": sum(not r.write for r in log),
        # Writes the vendor applied: answered 2xx, no injected fault.
        "write_ok": sum(r.write and r.status is not None and r.status < 300 and r.fault is None
                        for r in log),
        "by_status": dict(Counter(str(r.status) for r in log)),
        "by_fault": dict(Counter(r.fault for r in log if r.fault)),
        "by_route": dict(Counter(f"{r.method} {_route(r.path)}" for r in log)),
        "peak_in_flight": fake.peak_in_flight,
        "call_s_mean": statistics.fmean(durations) if durations else 0.0,
        "call_s_max": max(durations, default=0.0),
        # From the first call carrying members to the end of the last one: sending.
        "batch_span": max((r.started + r.duration for r in sends), default=0.0)
        - min((r.started for r in sends), default=0.0),
        "fake_errors": len(fake.errors),
    }


def _new_container(fake: Any, vendor: str, name: str) -> dict[str, Any]:
    if vendor == "mailchimp":
        list_id = fake.add_list(name)
        return {"list_id": list_id, "tag": f"cdp:bench-{list_id}"}
    if fake.errors:  # reset() forgets them: a crash of the fake stops the benchmark
        raise RuntimeError(f"the fake crashed: {fake.errors[0][-300:]}")
    fake.reset()  # a new portal or org (and rate window): the next sync is a first one
    if vendor == "hubspot":
        return {"list_id": fake.add_list(name)}
    return {"campaign_id": fake.add_campaign(name)}


def _audience(fake: Any, vendor: str, container: dict[str, Any]) -> list[str]:
    if vendor == "mailchimp":
        found = fake.tag_members(container["tag"], container["list_id"])
    elif vendor == "hubspot":
        found = fake.list_members(container["list_id"])
    else:
        found = fake.campaign_emails(container["campaign_id"])
    return sorted(email.lower() for email in found)


def handle(fake: Any, vendor: str, command: dict[str, Any]) -> Any:
    name = command.pop("cmd")
    if name == "stats":
        return _stats(fake, vendor)
    if name == "clear_log":
        fake.clear_log()
        with fake._control:  # the peak is a test-facing counter without a reset method
            fake.peak_in_flight = 0
        return True
    if name == "inject":
        fake.inject(**command)
        return True
    if name == "new_container":
        return _new_container(fake, vendor, command["name"])
    if name == "audience":
        return _audience(fake, vendor, command["container"])
    if name == "merge_fields":
        members = fake.members(command.get("list_id"))
        return {email: members[email]["merge_fields"] for email in command["emails"]
                if email in members}
    raise ValueError(f"unknown command {name}")


# -- the benchmark's side ------------------------------------------------------------
class FakeProcess:
    """benchmarks/fake_runner.py in a subprocess, driven over its stdin/stdout."""

    def __init__(self, vendor: str, service_time: float, bulk_record_s: float = 0.0):
        self.vendor = vendor
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--vendor", vendor, "--service-time", str(service_time),
             "--bulk-record-s", str(bulk_record_s)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
        )
        self.info = json.loads(self.proc.stdout.readline())
        self.containers = 0

    def call(self, cmd: str, **args: Any) -> Any:
        self.proc.stdin.write(json.dumps({"cmd": cmd, **args}) + "\n")
        self.proc.stdin.flush()
        reply = json.loads(self.proc.stdout.readline())
        if "error" in reply:
            raise SystemExit(f"{self.vendor} fake runner: {reply['error']}")
        return reply["ok"]

    def new_container(self) -> dict[str, Any]:
        self.containers += 1
        return self.call("new_container", name=f"benchlist{self.containers:02d}")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=30)


def _bare_clients(fake: FakeProcess, threads: int, bodies: list[Any],
                  send: Callable[[http.client.HTTPConnection, Any], None]) -> float:
    """Seconds `threads` keep-alive connections take to send every body (send raises on
    a refusal)."""
    host, port = fake.info["url"].removeprefix("http://").split(":")
    lock, failures = threading.Lock(), []

    def client() -> None:
        conn = http.client.HTTPConnection(host, int(port))
        while True:
            with lock:
                if not bodies:
                    return
                body = bodies.pop()
            try:
                send(conn, body)
            except RuntimeError as exc:
                failures.append(str(exc))

    started = time.perf_counter()
    workers = [threading.Thread(target=client) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if failures:
        raise SystemExit(f"{fake.vendor} ceiling: {len(failures)} calls failed ({failures[:3]})")
    return time.perf_counter() - started


def _answer(conn: http.client.HTTPConnection, method: str, path: str, body: bytes,
            headers: dict[str, str]) -> bytes:
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    if response.status not in (200, 201):
        raise RuntimeError(f"{method} {path}: {response.status}")
    return data


def fake_ceiling(fake: FakeProcess, members: int) -> float:
    """Seconds a bare client (pre-encoded bodies, 10 keep-alive connections, nothing
    else to do) takes to upsert `members` into a fresh list of the Mailchimp fake."""
    list_id = fake.new_container()["list_id"]
    auth = "Basic " + base64.b64encode(f"cdp:{fake.info['api_key']}".encode()).decode()
    dc = fake.info["api_key"].rsplit("-", 1)[1]
    path = fake.info["base_url_template"].removeprefix(fake.info["url"]).replace("{dc}", dc)
    path += f"/lists/{list_id}"
    headers = {"Authorization": auth, "Content-Type": "application/json"}
    bodies = [json.dumps({"members": [
        {"email_address": f"person{n}@cdp.test", "status_if_new": "subscribed",
         "merge_fields": {"FNAME": "Ann", "LNAME": "Morvan"}, "tags": ["cdp:ceiling"]}
        for n in range(start, min(start + BATCH, members))], "update_existing": True}).encode()
        for start in range(0, members, BATCH)]
    return _bare_clients(fake, CONNECTIONS, bodies,
                         lambda conn, body: _answer(conn, "POST", path, body, headers))


def salesforce_ceiling(fake: FakeProcess, members: int) -> float:
    """Seconds a bare client (pre-encoded upserts, 25 keep-alive connections) takes to
    upsert `members` Contacts 200 a collection and put each collection's people in a
    fresh campaign (the CampaignMember call built from the upsert's answer)."""
    campaign = fake.new_container()["campaign_id"]
    info = fake.info
    conn = http.client.HTTPConnection(*info["url"].removeprefix("http://").split(":"))
    token = json.loads(_answer(conn, "POST", "/services/oauth2/token", urlencode({
        "grant_type": "refresh_token", "client_id": info["client_id"],
        "client_secret": info["client_secret"], "refresh_token": info["refresh_token"],
    }).encode(), {"Content-Type": "application/x-www-form-urlencoded"}))["access_token"]
    conn.close()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    bodies = [json.dumps({"allOrNone": False, "records": [
        {"attributes": {"type": "Contact"}, "FirstName": "Ann", "LastName": "Morvan",
         "CDP_Id__c": f"ceiling-{n}", "Email": f"person{n}@cdp.test"}
        for n in range(start, min(start + SF_BATCH, members))]}).encode()
        for start in range(0, members, SF_BATCH)]

    def send(conn: http.client.HTTPConnection, body: bytes) -> None:
        answers = json.loads(_answer(conn, "PATCH", f"{SF_API}/composite/sobjects/Contact/"
                                     "CDP_Id__c", body, headers))
        rows = [{"attributes": {"type": "CampaignMember"}, "CampaignId": campaign,
                 "ContactId": a["id"]} for a in answers]
        _answer(conn, "POST", f"{SF_API}/composite/sobjects",
                json.dumps({"allOrNone": False, "records": rows}).encode(), headers)

    return _bare_clients(fake, SF_IN_FLIGHT, bodies, send)


# -- the runner's side -----------------------------------------------------------------
def _fake(args: argparse.Namespace) -> Any:
    if args.vendor == "mailchimp":
        from tests.fakes.mailchimp import MailchimpFake, mailchimp_limits

        return MailchimpFake(list_ids=("benchlist00",), seed=args.seed, log_bodies=False,
                             limits=mailchimp_limits(service_time=args.service_time))
    if args.vendor == "hubspot":
        from tests.fakes.hubspot import HubspotFake, hubspot_limits

        return HubspotFake(seed=args.seed, log_bodies=False,
                           limits=hubspot_limits(service_time=args.service_time))
    from tests.fakes.salesforce import SalesforceFake, salesforce_limits

    return SalesforceFake(campaigns=(), seed=args.seed, log_bodies=False,
                          limits=salesforce_limits(service_time=args.service_time),
                          bulk_seconds_per_record=args.bulk_record_s)


def _info(fake: Any, vendor: str) -> dict[str, str]:
    if vendor == "mailchimp":
        return {"url": fake.url, "api_key": fake.api_key,
                "base_url_template": fake.base_url_template}
    if vendor == "hubspot":
        return {"url": fake.url, "access_token": fake.token}
    return {"url": fake.url, "client_id": fake.client_id, "client_secret": fake.client_secret,
            "refresh_token": fake.refresh_token}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vendor", choices=VENDORS, default="mailchimp")
    parser.add_argument("--service-time", type=float, default=0.1)
    parser.add_argument("--bulk-record-s", type=float, default=0.0,
                        help="Salesforce: Bulk API job processing time per record")
    parser.add_argument("--fail-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    fake = _fake(args)
    if args.fail_rate:
        fake.inject(fail_rate=args.fail_rate)
    with fake:
        print(json.dumps(_info(fake, args.vendor)), flush=True)
        for line in sys.stdin:
            if not line.strip():
                continue
            command = json.loads(line)
            if command.get("cmd") == "quit":
                break
            try:
                reply = {"ok": handle(fake, args.vendor, command)}
            except Exception as exc:  # reported to the benchmark, which stops
                reply = {"error": f"{type(exc).__name__}: {exc}"}
            print(json.dumps(reply), flush=True)
        if fake.errors:
            print(json.dumps({"fake_errors": fake.errors[:3]}), file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
