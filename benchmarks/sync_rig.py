"""The activation benchmark's rig: each vendor's destination and what its limits allow,
one timed sync run (with the CPU it cost the engine, the fake and PostgreSQL), and an
initial sync into a new container. benchmarks/sync.py drives it; connectors/ stay
untouched (engine phases are timed by wrapping its module-level functions).
"""

import math
import os
import pwd
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.fake_runner import BATCH, CONNECTIONS, SF_BATCH, SF_IN_FLIGHT, FakeProcess

TICK = os.sysconf("SC_CLK_TCK")
MAPPINGS = {
    "mailchimp": {"FNAME": "first_name", "LNAME": "last_name"},
    "hubspot": {"firstname": "first_name", "lastname": "last_name"},
    "salesforce": {"FirstName": "first_name", "LastName": "last_name"},
}


def destination_for(fake: FakeProcess) -> Any:
    """A destination of the fake's vendor, with the vendor's default limits."""
    from connectors.services import destination_save

    info = fake.info
    if fake.vendor == "mailchimp":
        credentials, base_url = {"api_key": info["api_key"]}, info["base_url_template"]
    elif fake.vendor == "hubspot":
        credentials, base_url = {"access_token": info["access_token"]}, info["url"]
    else:
        credentials = {k: info[k] for k in ("client_id", "client_secret", "refresh_token")}
        base_url = info["url"]
    return destination_save(actor="bench", name=f"bench-{fake.vendor}", kind=fake.vendor,
                            purpose="email_marketing", credentials=credentials,
                            base_url=base_url, field_mapping=MAPPINGS[fake.vendor])


@dataclass(frozen=True)
class Allowance:
    """Members/s the vendor's limits allow for the calls the connector makes, and why."""

    rate: float
    how: str


def allowance(vendor: str, service_time: float) -> Allowance:
    if vendor == "mailchimp":
        return Allowance(CONNECTIONS * BATCH / service_time,
                         f"{CONNECTIONS} calls in flight x {BATCH} members / "
                         f"{service_time * 1000:.0f} ms a call")
    if vendor == "hubspot":
        from connectors.hubspot import HubspotConnector
        from tests.fakes.hubspot.server import TIERS

        calls_per_s = TIERS["professional"][0] / 10
        batch = HubspotConnector.limits.batch_size
        # push() adds each batch's record ids to the list at once: one call per batch.
        ids_per_add = min(HubspotConnector.membership_chunk, batch)
        calls = 1 + math.ceil(batch / ids_per_add)
        return Allowance(calls_per_s * batch / calls,
                         f"{calls_per_s * 10:.0f} calls per rolling 10 s = {calls_per_s:.0f}/s; "
                         f"each {batch} contacts take 1 batch/upsert + "
                         f"{calls - 1} memberships/add call(s) of {ids_per_add} ids")
    return Allowance(SF_IN_FLIGHT * SF_BATCH / (2 * service_time),
                     f"{SF_IN_FLIGHT} calls in flight x {SF_BATCH} records / "
                     f"{service_time * 1000:.0f} ms, 2 calls (Contact upsert, "
                     "CampaignMember insert) per 200 members")


def _cpu(pids: list[int]) -> dict[int, float]:
    """utime + stime of each of these processes still alive, seconds."""
    used = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used[pid] = (int(fields[11]) + int(fields[12])) / TICK
    return used


def _postgres_pids() -> list[int]:
    """The benchmark's PostgreSQL: backends on its database and the shared writers (other
    databases on this server are other people's work)."""
    from django.db import connection

    uid = pwd.getpwnam("postgres").pw_uid
    ours = (f" {connection.settings_dict['NAME']} ", "checkpointer", "background writer",
            "walwriter", "autovacuum worker")
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and entry.stat().st_uid == uid:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                if any(mark in command for mark in ours):
                    pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def _cpu_since(before: dict[int, float], pids: list[int]) -> float:
    """CPU seconds spent since `before` by these processes (those that ended meanwhile
    are not counted)."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in _cpu(pids).items())


class Phases:
    """Wall time of the engine's phases, by wrapping its module-level functions
    (connectors/*.py stay untouched); summed over a run (across threads for saves)."""

    WRAPPED = {"planning": ("desired_profiles", "_state", "_plan_chunk", "golden_values"),
               "engine": ("_save_pushes", "_save_removes")}

    def __init__(self) -> None:
        from connectors import engine, planning

        self.seconds: dict[str, float] = defaultdict(float)
        for module in (planning, engine):
            for name in self.WRAPPED[module.__name__.rsplit(".", 1)[1]]:
                setattr(module, name, self._timed(name, getattr(module, name)))

    @staticmethod
    def plan(seconds: dict[str, float]) -> float:
        """Planning time: desired audience, sent state, then the chunks' decisions
        (golden_values runs inside _plan_chunk)."""
        return sum(seconds.get(n, 0.0) for n in ("desired_profiles", "_state", "_plan_chunk"))

    def _timed(self, name: str, func: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - started
        return wrapper


class Rig:
    """One vendor's fake, the engine and what one run costs each of them."""

    def __init__(self, fake: FakeProcess, phases: Phases, segment: Any, expected: set[str]):
        self.fake, self.phases = fake, phases
        self.segment, self.expected = segment, expected
        self.destination = destination_for(fake)

    def run(self, sync_id: int, trigger: str = "manual") -> dict[str, Any]:
        from connectors.engine import sync_run

        self.phases.seconds.clear()
        self.fake.call("clear_log")
        fake_pid = [self.fake.proc.pid]
        cpu = (time.process_time(), _cpu(fake_pid), _cpu(_postgres_pids()))
        started = time.perf_counter()
        run = sync_run(sync_id=sync_id, trigger=trigger)
        wall = time.perf_counter() - started
        if run is None:
            raise SystemExit("sync_run did not run (lease taken or sync disabled)")
        used = (time.process_time() - cpu[0], _cpu_since(cpu[1], fake_pid),
                _cpu_since(cpu[2], _postgres_pids()))
        return {"wall": wall, "run": run, "fake": self.fake.call("stats"), "cpu": used,
                "phases": dict(self.phases.seconds), "vendor": self.fake.vendor}

    def initial(self, fail_rate: float = 0.0, **options: Any) -> dict[str, Any]:
        """An initial sync into a new container (`options` join the sync's container);
        run again while members are missing from it, at most twice more, as the next
        runs or the nightly would."""
        from connectors.models import SyncMember
        from connectors.services import sync_save

        container = self.fake.new_container()
        sync = sync_save(actor="bench", segment=self.segment, destination=self.destination,
                         container={**container, **options})
        self.fake.call("inject", fail_rate=fail_rate)
        runs = [self.run(sync.pk)]
        first = runs[0]
        first["pending"] = SyncMember.objects.filter(sync=sync).exclude(
            status=SyncMember.Status.SYNCED).count()
        first["untagged"] = missing = len(self.expected - self.audience(container))
        while missing and len(runs) < 3:
            runs.append(self.run(sync.pk, trigger="schedule"))
            missing = len(self.expected - self.audience(container))
        self.fake.call("inject", fail_rate=0.0)
        held = self.audience(container)
        first.update(sync=sync, container=container, runs=runs,
                     lost=len(self.expected - held), unexpected=len(held - self.expected))
        return first

    def audience(self, container: dict[str, Any]) -> set[str]:
        return set(self.fake.call("audience", container=container))


def describe(name: str, result: dict[str, Any]) -> None:
    run, seen, phases = result["run"], result["fake"], result["phases"]
    plan = Phases.plan(phases)
    engine_cpu, fake_cpu, pg_cpu = result["cpu"]
    print(f"{name}: {result['wall']:.2f} s; in the main thread, planning {plan:.2f} (desired "
          f"{phases.get('desired_profiles', 0):.2f}, golden_values "
          f"{phases.get('golden_values', 0):.2f}; members not yet sent are planned while "
          f"earlier batches go out) and state writes "
          f"{phases.get('_save_pushes', 0) + phases.get('_save_removes', 0):.2f}; fake busy "
          f"{seen['batch_span']:.2f} from first to last member call; CPU s: engine "
          f"{engine_cpu:.1f}, fake {fake_cpu:.1f}, PostgreSQL {pg_cpu:.1f}")
    print(f"  run {run.status} +{run.added} ~{run.updated} -{run.removed} ={run.unchanged} "
          f"failed {run.failed}; engine counted {run.write_calls} writes, {run.api_calls} "
          f"calls, {run.retries} retries; fake saw {seen['write_calls']} writes, "
          f"{seen['read_calls']} reads, faults {seen['by_fault'] or '-'}, peak "
          f"{seen['peak_in_flight']} in flight, {seen['call_s_mean'] * 1000:.0f} ms a call "
          f"(max {seen['call_s_max'] * 1000:.0f})")
    if result["vendor"] != "mailchimp":
        routes = ", ".join(f"{route} {count}" for route, count in
                           sorted(seen["by_route"].items(), key=lambda item: -item[1]))
        print(f"  calls by route: {routes}")
    if run.write_calls != seen["write_calls"]:
        print(f"  the engine's and the fake's write counts differ: {run.write_calls} vs "
              f"{seen['write_calls']}")
    if seen.get("fake_errors"):
        print(f"  the fake crashed {seen['fake_errors']} time(s) (answered 500)")
