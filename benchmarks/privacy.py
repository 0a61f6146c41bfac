#!/usr/bin/env python
"""Privacy figures of the audit log on PostgreSQL (scratch database cdp_bench_privacy).

- audit_overhead: median latency of GET /api/v1/profiles/{id} (an audited read: decrypts
  two records, writes one chained audit row) with auditing on vs off, as a ratio (goal
  under 1.10). Requests go through the whole Django stack in-process (middleware, API-key
  auth, throttle, view), alternating on/off in small blocks so drift hits both alike.
  "Off" is settings.CDP_AUDIT_ENABLED = False, a switch that exists for this measurement
  only and must stay on in production. The ratio therefore includes the audit INSERT and
  its commit (WAL flush) as well as the chain's advisory lock, last-hash read and id draw
  (one round trip), and any per-connection statement preparation.
- audit_record_ms: one audit_record() in its own transaction, median.
- audit_wps_4threads / plain_insert_wps_4threads: audit rows/s from 4 threads at once,
  chained (serialized by the advisory lock) vs plain unchained INSERTs (no lock): what
  the lock costs when writers contend.
- export_rows_per_s / export_peak_mb: `manage.py export_audit --format csv` of 1M audit
  rows (--quick: 50k) in a subprocess, process start included; peak PSS (goal under
  200 MB). export_json_rows_per_s: the same as a JSON array.
- verify_rows_per_s / verify_peak_mb: `manage.py verify_audit_chain` over the same rows.

The rows are loaded with COPY, their chain computed in Python with cdp.audit's own
canonical form, so verification runs on a valid chain. dsar_s: median time of the access
archive of a subject with 10,000 events. erase_s: median time to erase one subject (found
by email; 2 records, 100 events) in a base of 1M profiles (--quick: 20k) loaded with COPY
(benchmarks/erasure.py). Ends with one line:
RESULT dsar_s=.. audit_overhead=.. export_rows_per_s=.. export_peak_mb=.. ...
"""

import argparse
import base64
import csv
import io
import json
import os
import random
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.data import recreate_database  # noqa: E402
from benchmarks.erasure import bench_erase, load_base  # noqa: E402
from benchmarks.ingest import _tree_rss_mb  # noqa: E402

PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB = "cdp_bench_privacy"
GOALS = {"audit_overhead": 1.10, "export_peak_mb": 200}
ACTIONS = ["profile.view", "record.view", "segment.explain", "segment.preview", "auth.login"]


def _setup_env() -> None:
    os.environ.update(
        DATABASE_URL=f"{PG}/{DB}", REDIS_URL="", DEBUG="0", LOG_LEVEL="WARNING",
        SECRET_KEY=secrets.token_urlsafe(40),
        CDP_ENCRYPTION_KEYS=base64.urlsafe_b64encode(os.urandom(32)).decode(),
        CDP_BLIND_INDEX_KEY=secrets.token_urlsafe(40), ALLOWED_HOSTS="testserver,127.0.0.1",
        DJANGO_SETTINGS_MODULE="cdp.settings",
    )


def load_chain(rows: int, chunk: int = 100_000) -> None:
    """`rows` chained audit rows over the past year, COPYed in chunks (flat memory)."""
    from django.db import connection

    from cdp.audit import audit_canonical, audit_hash

    rng = random.Random(3)
    subjects = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(10_000)]
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=360)
    step = timedelta(days=359) / rows
    columns = ("id", "at", "actor", "action", "object_type", "object_id", "profile_id",
               "details", "reason", "request_id", "ip_prefix", "prev_hash", "row_hash")
    prev = ""
    with connection.cursor() as cur:
        for first in range(1, rows + 1, chunk):
            buffer = io.StringIO()
            writer = csv.writer(buffer, quoting=csv.QUOTE_ALL)
            for i in range(first, min(first + chunk, rows + 1)):
                subject = rng.choice(subjects)
                row = {
                    "id": i, "at": start + step * i, "actor": f"api-key:key-{i % 7}",
                    "action": ACTIONS[i % len(ACTIONS)], "object_type": "profile",
                    "object_id": str(subject), "profile_id": subject,
                    "details": {"purpose": "api", "records": i % 4}, "reason": "",
                    "request_id": uuid.UUID(int=rng.getrandbits(128)).hex,
                    "ip_prefix": f"192.0.{i % 256}.0/24", "prev_hash": prev,
                }
                row["row_hash"] = prev = audit_hash(prev, audit_canonical(row))
                row["at"], row["details"] = row["at"].isoformat(), json.dumps(row["details"])
                writer.writerow([row[name] for name in columns])
            buffer.seek(0)
            cur.copy_expert(f"COPY cdp_auditevent ({', '.join(columns)}) FROM STDIN "
                            "WITH (FORMAT csv)", buffer)
        cur.execute("SELECT setval(pg_get_serial_sequence('cdp_auditevent', 'id'), %s)", [rows])
        cur.execute("VACUUM ANALYZE cdp_auditevent")


def _run(args: list[str], expect: str) -> tuple[float, float, int]:
    """Seconds and peak PSS (MB) of a manage.py command; the row count it reports."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "manage.py", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0.0
    while proc.poll() is None:
        peak = max(peak, _tree_rss_mb(proc.pid))
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    out, err = proc.communicate()
    found = re.search(expect, out + err)
    if proc.returncode != 0 or not found:
        raise SystemExit(f"{args[0]} failed: {out[-500:]} {err[-2000:]}")
    return elapsed, peak, int(found.group(1))


def bench_export(tmp: Path, fmt: str) -> tuple[float, float]:
    """Rows/s and peak MB; the rows include earlier exports' own audit rows."""
    out = tmp / f"audit.{fmt}"
    elapsed, peak, rows = _run(["export_audit", "--format", fmt, "--out", str(out)],
                               r"(\d+) audit rows exported")
    return rows / elapsed, peak


def bench_verify() -> tuple[float, float]:
    elapsed, peak, rows = _run(["verify_audit_chain"], r"audit chain intact: (\d+) rows")
    return rows / elapsed, peak


@contextmanager
def _audit_mode(mode: str) -> Iterator[None]:
    """off: CDP_AUDIT_ENABLED False; unchained: the audit row as a plain INSERT (what
    profile_view wrote before the chain); chained: audit_record as shipped."""
    from django.test import override_settings

    import cdp.services.profiles as profiles
    from cdp.models import AuditEvent

    if mode == "off":
        with override_settings(CDP_AUDIT_ENABLED=False):
            yield
    elif mode == "unchained":
        shipped = profiles.audit_read
        profiles.audit_read = lambda **kw: AuditEvent.objects.create(
            **{k: v for k, v in kw.items() if k != "ip"})
        try:
            yield
        finally:
            profiles.audit_read = shipped
    else:
        yield


def bench_overhead(requests: int, block: int = 10) -> dict[str, float]:
    """Median request latency (ms) per audit mode, modes interleaved block by block
    (`requests` per mode); spread_lo/spread_hi: the lowest and highest on/off ratio of
    medians over the three successive thirds of the run, to show how steady it was."""
    from django.test import Client

    from cdp.models import Source, SourceRecord
    from cdp.services.api_keys import api_key_create
    from cdp.services.record_parsing import ParsedRecord
    from cdp.services.records import records_upsert

    source = Source.objects.create(name="bench")
    records_upsert(source=source, records=[
        ParsedRecord("b1", {"first_name": "Élodie", "email": "elodie@example.fr",
                            "phone": "0612345678", "city": "Lyon"}),
        ParsedRecord("b2", {"email": "elodie@example.fr", "customer_id": "C-9"}),
    ])
    profile_id = SourceRecord.objects.get(external_id="b1").profile_id
    _, raw = api_key_create(name="bench", scopes=["read"], rate="100000000/min")
    client = Client(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    url = f"/api/v1/profiles/{profile_id}"
    modes = ["off", "unchained", "chained"]
    for mode in modes:  # warm-up, each mode's own code paths included
        with _audit_mode(mode):
            for _ in range(50):
                assert client.get(url).status_code == 200
    rounds = max(3, requests // block)
    timings: dict[str, list[list[float]]] = {mode: [[], [], []] for mode in modes}
    for round_ in range(rounds):
        third = min(2, 3 * round_ // rounds)
        for mode in modes[round_ % 3:] + modes[:round_ % 3]:
            with _audit_mode(mode):
                for _ in range(block):
                    started = time.perf_counter()
                    response = client.get(url)
                    timings[mode][third].append(time.perf_counter() - started)
                    assert response.status_code == 200
    result = {mode: statistics.median(sum(timings[mode], [])) * 1000 for mode in modes}
    thirds = [statistics.median(timings["chained"][i]) / statistics.median(timings["off"][i])
              for i in range(3)]
    return result | {"spread_lo": min(thirds), "spread_hi": max(thirds)}


def bench_record_ms(count: int) -> float:
    from cdp.audit import audit_record

    timings = []
    for i in range(count):
        started = time.perf_counter()
        audit_record(actor="bench", action="bench.single", details={"i": i})
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


def bench_threads(per_thread: int, chained: bool, threads: int = 4) -> float:
    """Rows/s from `threads` writers at once (chained: audit_record; else plain INSERT)."""
    from django.db import connection

    from cdp.audit import audit_record
    from cdp.models import AuditEvent

    barrier = threading.Barrier(threads + 1)

    def work(n: int) -> None:
        barrier.wait()
        for i in range(per_thread):
            if chained:
                audit_record(actor=f"thread:{n}", action="bench.threads", details={"i": i})
            else:
                AuditEvent.objects.create(actor=f"thread:{n}", action="bench.plain",
                                          details={"i": i})
        connection.close()

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    barrier.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    return threads * per_thread / (time.perf_counter() - started)


def bench_dsar(events: int = 10_000, runs: int = 5) -> float:
    """Seconds to build the access archive of a subject with `events` events (median)."""
    from datetime import UTC, datetime, timedelta

    from cdp.models import ConsentEntry, Event, Source
    from cdp.services.dsar import dsar_access
    from cdp.services.record_parsing import ParsedRecord
    from cdp.services.records import records_upsert

    source, _ = Source.objects.get_or_create(name="dsar-bench")
    records_upsert(source=source, records=[ParsedRecord("subject-1", {
        "email": "sujet@example.org", "last_name": "Le Goff", "city": "Quimper"})])
    profile_id = source.records.get().profile_id
    now = datetime.now(UTC)
    Event.objects.bulk_create([
        Event(source=source, event_id=f"d{i}", profile_id=profile_id, type="page_view",
              occurred_at=now - timedelta(minutes=i), properties={"path": f"/p/{i % 50}"},
              received_at=now)
        for i in range(events)
    ], batch_size=5000)
    ConsentEntry.objects.create(profile_id=profile_id, purpose="email_marketing",
                                status="granted", captured_at=now)
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        dsar_access(profile_ids=[profile_id], identified_by="profile", actor="bench")
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50k audit rows, fewer requests")
    parser.add_argument("--rows", type=int, help="audit rows to export and verify")
    args = parser.parse_args()
    rows = args.rows or (50_000 if args.quick else 1_000_000)
    requests = 1500 if args.quick else 6000  # per audit mode
    _setup_env()
    recreate_database(PG, DB)
    import django

    django.setup()
    from django.core.management import call_command

    from cdp.models import AuditEvent

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    load_chain(rows)
    print(f"loaded {rows:,} chained audit rows in {time.perf_counter() - started:.0f} s")
    with tempfile.TemporaryDirectory() as tmp:
        export_rps, export_peak = bench_export(Path(tmp), "csv")
        json_rps, json_peak = bench_export(Path(tmp), "json")
    verify_rps, verify_peak = bench_verify()
    latency = bench_overhead(requests)
    on_ms, off_ms = latency["chained"], latency["off"]
    overhead, chain_only = on_ms / off_ms, on_ms / latency["unchained"]
    record_ms = bench_record_ms(500 if args.quick else 2000)
    per_thread = 250 if args.quick else 1000
    audit_wps = bench_threads(per_thread, chained=True)
    # Last: plain INSERTs carry no hash and would break the chain for any later check.
    plain_wps = bench_threads(per_thread, chained=False)
    dsar_s = bench_dsar()
    base = 20_000 if args.quick else 1_000_000
    started = time.perf_counter()
    load_base(base)
    print(f"loaded a base of {base:,} profiles in {time.perf_counter() - started:.0f} s")
    erase_s = bench_erase()
    total = AuditEvent.objects.count()

    table = [
        ("access archive (Art. 15) of a subject with 10,000 events", f"{dsar_s:.2f} s",
         f"{dsar_s:.2f} of the 1 s goal"),
        (f"erasure (Art. 17) of one subject in {base:,} profiles", f"{erase_s:.3f} s",
         f"{erase_s:.3f} of the 1 s goal (destination deletes queued)"),
        ("GET /profiles/{id}, audited", f"{on_ms:.2f} ms median",
         f"{overhead:.3f}x of unaudited {off_ms:.2f} ms (thirds of the run: "
         f"{latency['spread_lo']:.3f}-{latency['spread_hi']:.3f}x); "
         f"goal < {GOALS['audit_overhead']}"),
        ("same, audit row unchained (before)", f"{latency['unchained']:.2f} ms median",
         f"chain and lock: {chain_only:.3f}x of it"),
        ("audit_record, own transaction", f"{record_ms:.2f} ms median", ""),
        ("4 writers: chained / plain INSERT", f"{audit_wps:,.0f} / {plain_wps:,.0f} rows/s",
         f"{audit_wps / plain_wps:.2f} of plain"),
        (f"export_audit csv, {rows:,} rows", f"{export_rps:,.0f} rows/s",
         f"peak {export_peak:.0f} MB ({export_peak / GOALS['export_peak_mb']:.2f} of 200 MB)"),
        (f"export_audit json, {rows:,} rows", f"{json_rps:,.0f} rows/s",
         f"peak {json_peak:.0f} MB"),
        (f"verify_audit_chain, {rows:,} rows", f"{verify_rps:,.0f} rows/s",
         f"peak {verify_peak:.0f} MB"),
    ]
    for name, figure, note in table:
        print(f"| {name} | {figure} | {note} |")
    print(
        f"RESULT dsar_s={dsar_s:.3f} erase_s={erase_s:.3f} audit_overhead={overhead:.4f} "
        f"export_rows_per_s={export_rps:.0f} "
        f"export_peak_mb={max(export_peak, json_peak):.0f} "
        f"export_json_rows_per_s={json_rps:.0f} verify_rows_per_s={verify_rps:.0f} "
        f"verify_peak_mb={verify_peak:.0f} audit_request_ms={on_ms:.3f} "
        f"unaudited_request_ms={off_ms:.3f} chain_overhead={chain_only:.4f} "
        f"audit_record_ms={record_ms:.3f} "
        f"audit_wps_4threads={audit_wps:.0f} plain_insert_wps_4threads={plain_wps:.0f} "
        f"rows={rows} audit_rows_total={total}"
    )


if __name__ == "__main__":
    main()
