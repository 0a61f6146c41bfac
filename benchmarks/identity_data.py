#!/usr/bin/env python
"""Data of benchmarks/identity.py: generate_demo into a template database, made once.

The template cdp_bench_identity_gen_<customers> and its truth file under
benchmarks/out/identity/ are kept for `--reuse`; each run copies the template. The keys
are fixed benchmark keys (fake people in a scratch database), so a kept template still
decrypts. The bulk path (for 1M records, where generate_demo's services would take hours
here) runs the same generator and seed: records through import_records (the real
parsing, encryption and blind indexes), events COPYed and joined to their records, no
consent entries. `python benchmarks/identity_data.py DIR CUSTOMERS` writes its files.
"""

import base64
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB = "cdp_bench_identity"
OUT = ROOT / "benchmarks" / "out" / "identity"
AS_OF = "2026-11-01"  # fixed: the same data every time
# A real broker, as in production: tasks that identity changes trigger (segments, syncs)
# are queued here, not run inline by the measured commands. Flushed at each run.
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/11")


def bench_env(database: str) -> dict[str, str]:
    """Fixed keys (fake people in a scratch database): a reused template still decrypts."""
    def secret(label: str) -> bytes:
        return hashlib.sha256(f"cdp-bench-identity:{label}".encode()).digest()

    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"{PG}/{database}", REDIS_URL=REDIS, DEBUG="0", LOG_LEVEL="WARNING",
        SECRET_KEY=secret("django").hex(),
        CDP_ENCRYPTION_KEYS=base64.urlsafe_b64encode(secret("master")).decode(),
        CDP_BLIND_INDEX_KEY=secret("bidx").hex(), ALLOWED_HOSTS="127.0.0.1",
        DJANGO_SETTINGS_MODULE="cdp.settings",
    )
    return env


def manage(database: str, *args: str) -> str:
    out = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=bench_env(database),
                         capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"manage.py {args[0]} failed:\n{out.stdout}\n{out.stderr[-3000:]}")
    return out.stdout.strip()


def admin_sql(*statements: str) -> None:
    import psycopg2

    conn = psycopg2.connect(f"{PG}/postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        for statement in statements:
            cur.execute(statement)
    conn.close()


def database_exists(database: str) -> bool:
    import psycopg2

    conn = psycopg2.connect(f"{PG}/postgres")
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database])
        found = cur.fetchone() is not None
    conn.close()
    return found


def prepare(customers: int, reuse: bool, bulk: bool = False) -> tuple[Path, dict]:
    """The generated template database and truth file (made now, or kept with --reuse)."""
    template, truth = f"{DB}_gen_{customers}", OUT / f"truth-{customers}.csv"
    meta_path = OUT / f"gen-{customers}.json"
    if reuse and database_exists(template) and truth.is_file() and meta_path.is_file():
        _golden_backfill(template)  # a template made before the arrival task computed them
        return truth, json.loads(meta_path.read_text())
    OUT.mkdir(parents=True, exist_ok=True)
    admin_sql(f"DROP DATABASE IF EXISTS {template}", f"CREATE DATABASE {template}")
    manage(template, "migrate", "--noinput", "-v0")
    started = time.perf_counter()
    if bulk:
        summary = prepare_bulk(customers, template, truth)
    else:
        summary = manage(template, "generate_demo", "--customers", str(customers), "--truth",
                          str(truth), "--as-of", AS_OF, "--no-progress")
    meta = {"gen_s": round(time.perf_counter() - started, 1), "summary": summary}
    _golden_backfill(template)
    admin_db(template, "VACUUM ANALYZE")
    meta_path.write_text(json.dumps(meta))
    return truth, meta


def write_files(customers: int, out: Path) -> None:
    """The generate_demo stream as files for the bulk path: records CSV per source (for
    import_records), the truth, and every event with the record it was made for."""
    import csv
    import datetime as dt

    from cdp.demo.generator import generate
    from cdp.demo.output import truth_writer
    from cdp.demo.records import RECORD_COLUMNS, SOURCES

    as_of = dt.datetime.combine(dt.date.fromisoformat(AS_OF), dt.time(0), tzinfo=dt.UTC)
    handles = {s: (out / f"records_{s}.csv").open("w", newline="", encoding="utf-8")
               for s in SOURCES}
    writers = {s: csv.writer(h) for s, h in handles.items()}
    for source, writer in writers.items():
        writer.writerow(RECORD_COLUMNS[source])
    with (out / "events.csv").open("w", newline="", encoding="utf-8") as events_file, \
            truth_writer(out / "truth.csv") as write_truth:
        events = csv.writer(events_file)
        for customer in generate(customers=customers, seed=42, as_of=as_of):
            write_truth(customer)
            for rec in customer.records:
                row = rec.row()
                writers[rec.source].writerow([row.get(c, "") for c in RECORD_COLUMNS[rec.source]])
            for event in customer.events:
                kind, ident = event.identifier
                owner = next((r for r in customer.records if r.source == event.source and (
                    (kind == "external_id" and r.external_id == ident)
                    or (kind == "email" and r.email == ident)
                    or (kind == "customer_id" and r.customer_id == ident))), None) or next(
                    (r for r in customer.records if r.source == event.source),
                    customer.records[0])
                events.writerow([owner.source, owner.external_id, event.id, event.type,
                                 event.occurred_at.isoformat(), event.value or "",
                                 json.dumps(event.properties)])
    for handle in handles.values():
        handle.close()


def prepare_bulk(customers: int, template: str, truth: Path) -> str:
    """Same generator and seed; records through import_records (real parsing, encryption
    and blind indexes, parallel workers), events COPYed and joined to their records.
    Consent entries are left out."""
    import shutil
    import tempfile

    import psycopg2

    from benchmarks.segments import _without_indexes

    with tempfile.TemporaryDirectory(dir=OUT) as tmp:
        folder = Path(tmp)
        subprocess.run([sys.executable, __file__, str(folder), str(customers)], check=True,
                       env=bench_env(template))
        shutil.copy(folder / "truth.csv", truth)
        manage(template, "shell", "-c", "from cdp.demo.loading import demo_sources_ensure; "
                "demo_sources_ensure()")
        for source in ("crm", "shop", "newsletter"):
            manage(template, "import_records", str(folder / f"records_{source}.csv"),
                    "--source", source, "--no-progress")
        conn = psycopg2.connect(f"{PG}/{template}")
        with conn, conn.cursor() as cur, (folder / "events.csv").open() as handle:
            cur.execute("CREATE UNLOGGED TABLE bench_events (source text, external_id text, "
                        "event_id text, type text, occurred_at timestamptz, value numeric, "
                        "properties jsonb)")
            cur.copy_expert("COPY bench_events FROM STDIN WITH (FORMAT csv)", handle)
            with _without_indexes(cur, "cdp_event"):
                cur.execute(
                    "INSERT INTO cdp_event (event_id, type, occurred_at, value, properties, "
                    "received_at, profile_id, source_id, record_id) SELECT e.event_id, e.type, "
                    "e.occurred_at, e.value, e.properties, now(), r.profile_id, r.source_id, "
                    "r.id FROM bench_events e JOIN cdp_source s ON s.name = e.source "
                    "JOIN cdp_sourcerecord r ON r.source_id = s.id "
                    "AND r.external_id = e.external_id")
                events = cur.rowcount
            cur.execute("DROP TABLE bench_events")
            cur.execute("SELECT count(*) FROM cdp_sourcerecord")
            records = cur.fetchone()[0]
        conn.close()
    return f"{customers} customers, {records} records, {events} events (bulk path)"


def _golden_backfill(template: str) -> None:
    """Golden records as the arrival task keeps them: its tasks are queued, not run, while
    the data is made. Without them the timed full run would also compute every
    profile's first golden record, a one-off backfill rather than the nightly run."""
    started = time.perf_counter()
    written = manage(template, "refresh_golden").strip()
    if not written.startswith("0 "):
        print(f"data: {written} in {time.perf_counter() - started:.0f} s")
        admin_db(template, "VACUUM ANALYZE identity_goldenrecord")


def admin_db(database: str, statement: str) -> None:
    import psycopg2

    conn = psycopg2.connect(f"{PG}/{database}")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(statement)
    conn.close()




if __name__ == "__main__":
    import django

    django.setup()
    write_files(int(sys.argv[2]), Path(sys.argv[1]))
