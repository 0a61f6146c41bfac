#!/usr/bin/env python
"""Ingestion figures: import_records vs a plain COPY, the batch API, peak memory of a big import.

Runs against this machine's PostgreSQL in a scratch database (cdp_bench, recreated) with
real encryption and blind indexes. `--quick` uses small data (under a minute).
Prints a table and one line: RESULT import_rps=.. copy_rps=.. api_rps=.. peak_mb=.. ...
"""

import argparse
import base64
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psycopg2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.data import HEADER, record_dicts, recreate_database, write_records_csv  # noqa: E402

PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB = "cdp_bench"
GOALS = {"import_rps": 10_000, "api_rps": 5_000, "peak_mb": 500}


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"{PG}/{DB}",
        REDIS_URL=os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/12"),
        SECRET_KEY=secrets.token_urlsafe(40),
        CDP_ENCRYPTION_KEYS=base64.urlsafe_b64encode(os.urandom(32)).decode(),
        CDP_BLIND_INDEX_KEY=secrets.token_urlsafe(40),
        DEBUG="0",
        ALLOWED_HOSTS="127.0.0.1",
        DJANGO_SETTINGS_MODULE="cdp.settings",
    )
    return env


def _manage(env: dict[str, str], *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True,
        capture_output=True, text=True,
    )
    return out.stdout.strip()


def _fresh_database(env: dict[str, str]) -> None:
    recreate_database(PG, DB)
    _manage(env, "migrate", "--noinput", "-v0")


def _tree_rss_mb(pid: int) -> float:
    """Proportional resident memory (PSS) of a process and its children.

    PSS splits pages shared by the forked parsing workers among them, so the sum is the
    real footprint rather than counting the parent's pages once per worker.
    """
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        ppid = int(fields.get("PPid", "0").strip())
        if int(entry.name) == pid or ppid == pid:
            try:
                rollup = (entry / "smaps_rollup").read_text()
            except OSError:
                continue
            pss = [line for line in rollup.splitlines() if line.startswith("Pss:")]
            total += int(pss[0].split()[1]) if pss else 0
    return total / 1024


def bench_import(env: dict[str, str], path: Path, source: str, rows: int) -> tuple[float, float]:
    """Rows/s of the real command (process start included) and its peak memory."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "import_records", str(path), "--source", source,
         "--no-progress"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    peak = 0.0
    while proc.poll() is None:
        peak = max(peak, _tree_rss_mb(proc.pid))
        time.sleep(0.1)
    elapsed = time.perf_counter() - started
    out, err = proc.communicate()
    if proc.returncode != 0 or f"{rows} of {rows} rows imported" not in out:
        raise SystemExit(f"import failed: {out} {err[-2000:]}")
    return rows / elapsed, peak


def bench_copy(path: Path, rows: int) -> float:
    """The floor: the same CSV COPYed into an unindexed table of text columns."""
    conn = psycopg2.connect(f"{PG}/{DB}")
    with conn, conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_copy")
        cur.execute("CREATE UNLOGGED TABLE bench_copy (" +
                    ", ".join(f"{c} text" for c in HEADER) + ")")
    started = time.perf_counter()
    with conn, conn.cursor() as cur, path.open() as handle:
        cur.copy_expert("COPY bench_copy FROM STDIN WITH (FORMAT csv, HEADER true)", handle)
    elapsed = time.perf_counter() - started
    conn.close()
    return rows / elapsed


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bench_api(env: dict[str, str], rows: int, batch: int = 1000, clients: int = 2) -> float:
    """Records/s through POST /api/v1/records/batch on gunicorn (2 workers), 2 clients."""
    _manage(env, "shell", "-c", "from cdp.models import Source; "
            "Source.objects.get_or_create(name='api')")
    key = _manage(env, "create_api_key", f"bench-{secrets.token_hex(3)}", "--scopes", "ingest",
                  "--rate", "1000000/min")
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "cdp.wsgi:application", "--bind",
         f"127.0.0.1:{port}", "--workers", "2", "--timeout", "120", "--log-level", "warning"],
        cwd=ROOT, env=env,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):  # wait until gunicorn listens
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        items = list(record_dicts(rows, seed=11, start=50_000_000))
        bodies = [json.dumps({"source": "api", "records": items[i:i + batch]}).encode()
                  for i in range(0, rows, batch)]
        headers = {"Authorization": f"Api-Key {key}", "Content-Type": "application/json"}
        failures: list[str] = []

        def send(chunk: list[bytes]) -> None:
            with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
                for body in chunk:
                    answer = client.post("/api/v1/records/batch", content=body)
                    if answer.status_code != 200 or answer.json()["created"] != batch:
                        failures.append(answer.text[:300])

        threads = [threading.Thread(target=send, args=(bodies[i::clients],))
                   for i in range(clients)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        if failures:
            raise SystemExit(f"API batches failed: {failures[:2]}")
        return rows / elapsed
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small data, under a minute")
    parser.add_argument("--records", type=int, help="rows for the import/COPY/API runs")
    parser.add_argument("--big", type=int, help="rows of the peak-memory import")
    args = parser.parse_args()
    rows = args.records or (10_000 if args.quick else 100_000)
    big = args.big or (50_000 if args.quick else 1_000_000)
    env = _env()
    _fresh_database(env)
    with tempfile.TemporaryDirectory() as tmp:
        small = write_records_csv(Path(tmp) / "records.csv", rows, start=0)
        import_rps, _ = bench_import(env, small, "bench", rows)
        copy_rps = bench_copy(small, rows)
        api_rps = bench_api(env, min(rows, 50_000))
        large = write_records_csv(Path(tmp) / "big.csv", big, start=10_000_000)
        big_rps, peak_mb = bench_import(env, large, "bigbench", big)

    table = [
        (f"import_records, {rows:,} rows", f"{import_rps:,.0f} rows/s",
         f"{import_rps / copy_rps:.3f} of COPY; {import_rps / GOALS['import_rps']:.2f} of goal"),
        ("plain COPY, unindexed table", f"{copy_rps:,.0f} rows/s", "reference (floor)"),
        ("batch API, 1,000/batch, 2 clients", f"{api_rps:,.0f} records/s",
         f"{api_rps / GOALS['api_rps']:.2f} of goal"),
        (f"import_records, {big:,} rows", f"{big_rps:,.0f} rows/s",
         f"peak {peak_mb:,.0f} MB ({peak_mb / GOALS['peak_mb']:.2f} of 500 MB budget)"),
    ]
    for name, figure, ratio in table:
        print(f"| {name} | {figure} | {ratio} |")
    print(
        f"RESULT import_rps={import_rps:.0f} copy_rps={copy_rps:.0f} api_rps={api_rps:.0f} "
        f"peak_mb={peak_mb:.0f} import_vs_copy={import_rps / copy_rps:.4f} "
        f"big_import_rps={big_rps:.0f} records={rows} big_records={big}"
    )


if __name__ == "__main__":
    main()
