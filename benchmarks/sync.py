#!/usr/bin/env python
"""Activation figures: audience syncs to Mailchimp, HubSpot and Salesforce fakes.

The fakes apply the vendors' real limits. Scratch database cdp_bench_sync (recreated,
migrated). The audience: 100,000 people (`--quick`: 10,000), one record each through
records_upsert (real envelope encryption, as the engine decrypts them): email at
cdp.test, first and last name, city Brest; email_marketing consent (COPY); a segment on
the city, evaluated, then ANALYZE as autovacuum would. Each vendor's fake runs in its own
process (benchmarks/fake_runner.py) with the vendor's limits and a fixed service time per
call (default 100 ms), so its threads do not take the GIL from the engine. Every sync is
connectors.engine.sync_run, timed around the call; each initial sync goes to a new
container (Mailchimp: a list and tag; HubSpot and Salesforce: a fresh portal or org with
a new list or campaign).

What the limits allow (members/s, for the calls the connectors make):
- Mailchimp: 10 connections x 500 members / service time.
- HubSpot: 190 calls per rolling 10 s = 19 calls/s; each 100 contacts take a batch/upsert
  and a memberships/add call (push() adds its batch's 100 record ids at once), so
  19 x 100 / 2 = 950 members/s, whatever the service time (4 threads at 100 ms could
  make 40 calls/s); plus 2 calls a run (list check, read-back of the empty list).
- Salesforce: 25 calls in flight x 200 records / service time, with 2 calls per 200
  members (Contact upsert, CampaignMember insert): 25,000 members/s at 100 ms. Through
  Bulk API 2.0 (bulk_threshold 1) the fake takes --bulk-record-ms a record per job (an
  upsert job, then a CampaignMember insert job), polled every
  CDP_SALESFORCE_BULK_POLL_S.

Figures (RESULT names are public contracts):
- mailchimp_limit_share, hubspot_limit_share, salesforce_limit_share: members/s of the
  fault-free initial sync (median of the runs) over what the limits allow (goal >= 0.90);
  Salesforce through sObject Collections (bulk_threshold above the audience).
- salesforce_bulk_speedup: median Collections wall time / median Bulk API 2.0 wall time.
- noop_writes (Mailchimp): write calls the fake saw during a second run with nothing
  changed (goal 0).
- delta_write_ratio (Mailchimp): after 1% of members change first name
  (records_upsert), write calls seen / ceil(changed / 500) (goal 1.0).
- lost: the initial syncs with --fail-rate (10%) of calls answered 5xx, for every vendor
  and path measured: desired members missing from the container once the runs are over
  (a second run, as the next one or the nightly would, if members were left missing;
  goal 0, summed); fault_slowdown (Mailchimp) and <vendor>_fault_slowdown: median
  first-run wall time over the fault-free median.

Context printed with them: fake_ceiling_share (Mailchimp) and salesforce_ceiling_share,
the share a bare client (pre-encoded bodies, no database) reaches against the same fake
on this machine, so what the rig itself allows; CPU seconds of the engine, the fake and
PostgreSQL during an initial sync (2 cores here); calls by route. Write calls are counted
by the fake (what the vendor saw, retries included) and checked against
SyncRun.write_calls. `--repeat` runs of each fast path (Mailchimp, Salesforce
Collections), `--repeat-slow` of the paths paced by the vendor (HubSpot, Bulk API).
"""

import argparse
import base64
import io
import os
import secrets
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.data import FIRST, LAST, recreate_database  # noqa: E402
from benchmarks.fake_runner import (  # noqa: E402
    VENDORS,
    FakeProcess,
    fake_ceiling,
    salesforce_ceiling,
)
from benchmarks.sync_report import report  # noqa: E402
from benchmarks.sync_rig import Phases, Rig, describe  # noqa: E402

PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB = "cdp_bench_sync"


def _setup_env() -> None:
    os.environ.update(
        DATABASE_URL=f"{PG}/{DB}", REDIS_URL="", DEBUG="0", LOG_LEVEL="WARNING",
        SECRET_KEY=secrets.token_urlsafe(40),
        CDP_ENCRYPTION_KEYS=base64.urlsafe_b64encode(os.urandom(32)).decode(),
        CDP_BLIND_INDEX_KEY=secrets.token_urlsafe(40), ALLOWED_HOSTS="127.0.0.1",
        DJANGO_SETTINGS_MODULE="cdp.settings",
    )


def _email(n: int) -> str:
    return f"person{n}@cdp.test"


def load_audience(members: int) -> float:
    """members records (records_upsert, 5,000 a batch) and their consents (COPY)."""
    from django.db import connection

    from cdp.models import Source, SourceRecord
    from cdp.services.record_parsing import ParsedRecord
    from cdp.services.records import records_upsert

    started = time.perf_counter()
    source = Source.objects.create(name="crm", kind=Source.Kind.CRM, priority=100)
    for start in range(0, members, 5000):
        records_upsert(source=source, records=[
            ParsedRecord(f"p{n}", {"email": _email(n), "first_name": FIRST[n % len(FIRST)],
                                   "last_name": LAST[n % len(LAST)], "city": "Brest"})
            for n in range(start, min(start + 5000, members))
        ])
    stamp = datetime(2026, 1, 1, tzinfo=UTC).isoformat()
    ids = SourceRecord.objects.values_list("profile_id", flat=True)
    buffer = io.StringIO("".join(
        f"{pid}\t{source.pk}\temail_marketing\tgranted\tconsent\tweb\tv1\t\t{{}}\t{stamp}"
        f"\t{stamp}\t\n" for pid in ids))
    with connection.cursor() as cur:
        cur.copy_expert(
            "COPY cdp_consententry (profile_id, source_id, purpose, status, lawful_basis, "
            "channel, notice_version, notice_hash, evidence, captured_at, recorded_at, "
            "recorded_by) FROM STDIN", buffer)
    return time.perf_counter() - started


def _initials(rig: Rig, repeat: int, fail_rate: float, **options: Any) -> tuple[list, list]:
    """`repeat` fault-free and faulty initial syncs, interleaved so drift hits both."""
    clean, faulty = [], []
    for _ in range(repeat):
        clean.append(rig.initial(**options))
        faulty.append(rig.initial(fail_rate, **options))
    if any(r["lost"] or r["unexpected"] or r["run"].status != "succeeded" for r in clean):
        raise SystemExit(f"a fault-free {rig.fake.vendor} initial sync did not put exactly "
                         "the audience in its container")
    return clean, faulty


def measure_mailchimp(args: argparse.Namespace, rig: Rig, members: int) -> dict[str, Any]:
    from cdp.models import Source
    from cdp.services.record_parsing import ParsedRecord
    from cdp.services.records import records_upsert

    ceiling_s = fake_ceiling(rig.fake, members)
    clean, faulty = _initials(rig, args.repeat, args.fail_rate)
    first = clean[0]
    noop = rig.run(first["sync"].pk)  # nothing changed since the first initial sync
    changed = max(1, members // 100)
    picked = [n * (members // changed) for n in range(changed)]
    records_upsert(source=Source.objects.get(name="crm"), records=[
        ParsedRecord(f"p{n}", {"first_name": f"Renamed{n}"}) for n in picked])
    delta = rig.run(first["sync"].pk)
    arrived = rig.fake.call("merge_fields", emails=[_email(n) for n in picked],
                            list_id=first["container"]["list_id"])
    wrong = sum(arrived.get(_email(n), {}).get("FNAME") != f"Renamed{n}" for n in picked)
    return {"clean": clean, "faulty": faulty, "ceiling_s": ceiling_s, "noop": noop,
            "delta": delta, "changed": changed, "wrong": wrong}


def measure_hubspot(args: argparse.Namespace, rig: Rig, members: int) -> dict[str, Any]:
    clean, faulty = _initials(rig, args.repeat_slow, args.fail_rate)
    return {"clean": clean, "faulty": faulty}


def measure_salesforce(args: argparse.Namespace, rig: Rig, members: int) -> dict[str, Any]:
    ceiling_s = salesforce_ceiling(rig.fake, members)
    clean, faulty = _initials(rig, args.repeat, args.fail_rate, bulk_threshold=members + 1)
    bulk, bulk_faulty = _initials(rig, args.repeat_slow, args.fail_rate, bulk_threshold=1)
    return {"clean": clean, "faulty": faulty, "ceiling_s": ceiling_s, "bulk": bulk,
            "bulk_faulty": bulk_faulty}


MEASURES = {"mailchimp": measure_mailchimp, "hubspot": measure_hubspot,
            "salesforce": measure_salesforce}


def _profile(rig: Rig, path: str, **options: Any) -> None:
    """One more fault-free initial sync under cProfile (main thread only): not a figure."""
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    result = rig.initial(**options)
    profiler.disable()
    profiler.dump_stats(path)
    print(f"profiled {rig.fake.vendor} initial sync: {result['wall']:.2f} s (cProfile on), "
          f"stats in {path}")


def _vendors(text: str) -> list[str]:
    chosen = [v.strip() for v in text.split(",") if v.strip()]
    unknown = set(chosen) - set(VENDORS)
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"vendors among {', '.join(VENDORS)}")
    return [v for v in VENDORS if v in chosen]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 members, about 2 minutes")
    parser.add_argument("--members", type=int, help="audience size (default 100,000)")
    parser.add_argument("--vendors", type=_vendors, default=list(VENDORS),
                        help="comma-separated, default mailchimp,hubspot,salesforce")
    parser.add_argument("--service-time", type=float, default=0.1,
                        help="the fakes' fixed service time per call, seconds")
    parser.add_argument("--bulk-record-ms", type=float, default=0.5,
                        help="Salesforce Bulk API job processing time per record, ms")
    parser.add_argument("--fail-rate", type=float, default=0.1)
    parser.add_argument("--repeat", type=int, default=2,
                        help="fault-free and faulty initial syncs each, Mailchimp and "
                             "Salesforce Collections (medians)")
    parser.add_argument("--repeat-slow", type=int, default=1,
                        help="the same for HubSpot and Salesforce Bulk (paced by the vendor)")
    parser.add_argument("--profile", metavar="FILE",
                        help="after the figures, cProfile one more initial sync per vendor "
                             "into FILE.<vendor>")
    args = parser.parse_args()
    members = args.members or (10_000 if args.quick else 100_000)
    _setup_env()
    recreate_database(PG, DB)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from segments.evaluation import segment_evaluate
    from segments.services import segment_save

    load_s = load_audience(members)
    segment = segment_save(actor="bench", name="Brest", slug="brest", schedule="",
                           definition={"attribute": "city", "op": "eq", "value": "Brest"})
    evaluated = segment_evaluate(segment_id=segment.pk)  # before any sync: no eager run
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    print(f"loaded {members:,} members in {load_s:.1f} s (records_upsert); segment of "
          f"{evaluated.size:,}")

    expected = {_email(n) for n in range(members)}
    phases, measured, loads = Phases(), {}, {}
    for vendor in args.vendors:
        started, load_before = time.perf_counter(), os.getloadavg()[0]
        fake = FakeProcess(vendor, args.service_time, args.bulk_record_ms / 1000)
        try:
            rig = Rig(fake, phases, segment, expected)
            measured[vendor] = MEASURES[vendor](args, rig, members)
            if args.profile:
                _profile(rig, f"{args.profile}.{vendor}", **(
                    {"bulk_threshold": members + 1} if vendor == "salesforce" else {}))
        finally:
            fake.close()
        loads[vendor] = (load_before, os.getloadavg()[0], time.perf_counter() - started)
        _describe_all(vendor, measured[vendor])
    for vendor, (before, after, spent) in loads.items():
        print(f"{vendor}: {spent:.0f} s of runs; load average (1 min) {before:.1f} before, "
              f"{after:.1f} after, on {os.cpu_count()} cores")
    report(args, members, measured)


def _describe_all(vendor: str, results: dict[str, Any]) -> None:
    for key, label in (("clean", "initial"), ("faulty", "initial with faults"),
                       ("bulk", "initial through Bulk API"),
                       ("bulk_faulty", "initial through Bulk API with faults")):
        for number, result in enumerate(results.get(key, []), 1):
            for run_number, run in enumerate(result["runs"], 1):
                describe(f"{vendor} {label} #{number}, run {run_number}", run)
    if "noop" in results:
        describe(f"{vendor} second run, nothing changed", results["noop"])
        describe(f"{vendor} delta run", results["delta"])


if __name__ == "__main__":
    main()
