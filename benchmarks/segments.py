#!/usr/bin/env python
"""Segment figures on PostgreSQL: full evaluation with the membership diff, the same rule
as hand-written SQL, a preview, and real-time re-evaluation after one event.

Data (generated here, loaded with COPY into a scratch database cdp_bench_segments):
1M profiles with one record each (city), 10M events, email_marketing consents.
`--quick`: 20k profiles, 200k events. Ends with:
RESULT eval_s=.. handwritten_sql_s=.. preview_s=.. realtime_p95_ms=..
"""

import argparse
import base64
import io
import os
import random
import secrets
import statistics
import sys
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.data import recreate_database  # noqa: E402

PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB = "cdp_bench_segments"
CITIES = ["Paris", "Lyon", "Lille", "Marseille", "Toulouse", "Nantes", "Bordeaux", "Nice",
          "Strasbourg", "Rennes", "Brest", "Dijon", "Metz", "Tours", "Caen", "Reims"]
RULE = {"all": [
    {"event": "purchase", "count": {"gte": 3}, "within_days": 7},
    {"consent": "email_marketing"},
    {"attribute": "city", "op": "in", "value": ["Paris", "Lyon", "Lille"]},
]}
# What a careful person would write by hand: group the recent purchases once, take the
# latest consent entry with an anti-join, test the city with a semi-join.
HANDWRITTEN = """
SELECT count(*) FROM cdp_profile p
WHERE p.id IN (SELECT e.profile_id FROM cdp_event e
               WHERE e.type = 'purchase' AND e.occurred_at >= %s AND e.occurred_at <= %s
               GROUP BY e.profile_id HAVING count(*) >= 3)
  AND p.id IN (SELECT c.profile_id FROM cdp_consententry c
               WHERE c.purpose = 'email_marketing' AND c.status = 'granted'
                 AND NOT EXISTS (SELECT 1 FROM cdp_consententry n
                                 WHERE n.profile_id = c.profile_id AND n.purpose = c.purpose
                                   AND (n.captured_at, n.id) > (c.captured_at, c.id)))
  AND EXISTS (SELECT 1 FROM cdp_sourcerecord r WHERE r.profile_id = p.id
              AND upper(r.city) IN ('PARIS', 'LYON', 'LILLE'))
"""


def _setup_env() -> None:
    os.environ.update(
        DATABASE_URL=f"{PG}/{DB}", REDIS_URL="", DEBUG="0", LOG_LEVEL="WARNING",
        SECRET_KEY=secrets.token_urlsafe(40),
        CDP_ENCRYPTION_KEYS=base64.urlsafe_b64encode(os.urandom(32)).decode(),
        CDP_BLIND_INDEX_KEY=secrets.token_urlsafe(40), ALLOWED_HOSTS="127.0.0.1",
        DJANGO_SETTINGS_MODULE="cdp.settings",
    )


def _copy(cur, table: str, columns: str, lines) -> None:
    buffer = io.StringIO()
    for count, line in enumerate(lines, 1):
        buffer.write(line)
        if count % 500_000 == 0:
            buffer.seek(0)
            cur.copy_expert(f"COPY {table} ({columns}) FROM STDIN", buffer)
            buffer = io.StringIO()
    buffer.seek(0)
    cur.copy_expert(f"COPY {table} ({columns}) FROM STDIN", buffer)


def _ids(profiles: int, rng: random.Random | None = None) -> list[uuid.UUID]:
    """The profile ids load() creates, in order (the same seed gives the same ids)."""
    rng = rng or random.Random(5)
    return [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(profiles)]


@contextmanager
def _without_indexes(cur, table: str):
    """Bulk-load practice: drop secondary indexes and constraints, load, rebuild them."""
    cur.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = %s::regclass AND contype IN ('u', 'f')", [table])
    constraints = cur.fetchall()
    cur.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s "
                "AND indexname NOT IN (SELECT conname FROM pg_constraint "
                "WHERE conrelid = %s::regclass)", [table, table])
    indexes = cur.fetchall()
    for name, _ in constraints:
        cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        cur.execute(f'DROP INDEX "{name}"')
    yield
    for _, definition in indexes:
        cur.execute(definition)
    for name, definition in constraints:
        cur.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')


def load(profiles: int, events: int, now: datetime) -> list[uuid.UUID]:
    """Profiles, one record each, events (2% heavy recent buyers) and consents via COPY."""
    from django.db import connection

    rng = random.Random(5)
    ids = _ids(profiles, rng)
    stamp = now.isoformat()
    with connection.cursor() as cur:
        cur.execute("INSERT INTO cdp_source (name, kind, description, priority, created_at) "
                    "VALUES ('shop', 'shop', '', 100, now()) RETURNING id")
        source_id = cur.fetchone()[0]
        _copy(cur, "cdp_profile", "id, created_at, updated_at",
              (f"{pid}\t{stamp}\t{stamp}\n" for pid in ids))
        _copy(cur, "cdp_sourcerecord",
              "source_id, external_id, profile_id, city, attributes, implicit, "
              "received_at, updated_at",
              (f"{source_id}\tS{i}\t{pid}\t{rng.choice(CITIES)}\t{{}}\tf\t{stamp}\t{stamp}\n"
               for i, pid in enumerate(ids)))
        heavy = ids[: max(1, profiles // 50)]

        def event_lines():
            for i in range(events):
                if i % 10 < 1:  # 10% of events: recent purchases by heavy buyers
                    pid, kind = rng.choice(heavy), "purchase"
                    at = now - timedelta(seconds=rng.randint(0, 10 * 86400))
                else:
                    pid = ids[rng.randrange(profiles)]
                    kind = rng.choices(["purchase", "page_view", "email_open"], [2, 6, 2])[0]
                    at = now - timedelta(seconds=rng.randint(0, 365 * 86400))
                value = f"{rng.randint(500, 20000) / 100}" if kind == "purchase" else "\\N"
                yield (f"{source_id}\te{i}\t{pid}\t{kind}\t{at.isoformat()}\t{value}\t{{}}"
                       f"\t{stamp}\n")

        with _without_indexes(cur, "cdp_event"):
            _copy(cur, "cdp_event",
                  "source_id, event_id, profile_id, type, occurred_at, value, properties, "
                  "received_at", event_lines())
        _copy(cur, "cdp_consententry",
              "profile_id, purpose, status, lawful_basis, channel, notice_version, evidence, "
              "captured_at, recorded_at",
              (f"{pid}\temail_marketing\t{'granted' if rng.random() < 0.6 else 'denied'}"
               f"\tconsent\tweb\tv1\t{{}}\t{stamp}\t{stamp}\n" for pid in ids))
        cur.execute("VACUUM ANALYZE")  # visibility map for index-only scans, as autovacuum would
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the data of a previous run of the same size (no reload)")
    args = parser.parse_args()
    profiles, events = (20_000, 200_000) if args.quick else (1_000_000, 10_000_000)
    _setup_env()
    if not args.reuse:
        recreate_database(PG, DB)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from cdp.models import Event, Profile, Source
    from cdp.services.events import ParsedEvent, events_ingest
    from segments.evaluation import segment_evaluate, segment_evaluate_profiles
    from segments.models import Segment
    from segments.preview import segment_preview
    from segments.services import segment_save

    call_command("migrate", verbosity=0)
    if args.reuse and Profile.objects.count() == profiles:
        Segment.objects.all().delete()
        Event.objects.filter(event_id__startswith="rt").delete()
        ids = _ids(profiles)
        now = Event.objects.order_by("-received_at").values_list("received_at", flat=True)[0]
    else:
        now = datetime.now(UTC)
        started = time.perf_counter()
        ids = load(profiles, events, now)
        print(f"loaded {profiles:,} profiles and {events:,} events in "
              f"{time.perf_counter() - started:.0f} s")

    segment = segment_save(actor="bench", name="Buyers", slug="buyers", definition=RULE)
    started = time.perf_counter()
    run = segment_evaluate(segment_id=segment.pk, now=now)
    eval_s = time.perf_counter() - started
    started = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute(HANDWRITTEN, [now - timedelta(days=7), now])
        handwritten = cur.fetchone()[0]
    handwritten_s = time.perf_counter() - started
    if handwritten != run.size:
        raise SystemExit(f"compiled rule found {run.size}, hand-written SQL {handwritten}")
    started = time.perf_counter()
    preview = segment_preview(definition=RULE, actor="bench", now=now)
    preview_s = time.perf_counter() - started

    source = Source.objects.get(name="shop")
    rng = random.Random(9)
    timings = []
    for i in range(200):
        index = rng.randrange(max(1, profiles // 50))  # heavy buyers sit near the threshold
        events_ingest(source=source, now=now, events=[ParsedEvent(
            event_id=f"rt{i}", type="purchase", occurred_at=now, value=None, properties={},
            identifier=("external_id", f"S{index}"))])
        started = time.perf_counter()
        segment_evaluate_profiles(segment=segment, profile_ids=[ids[index]], now=now)
        timings.append((time.perf_counter() - started) * 1000)
    p95 = statistics.quantiles(timings, n=20)[18]

    print(f"| full evaluation incl. membership diff ({run.size:,} members) | {eval_s:.2f} s | "
          f"{eval_s / 3:.2f} of the 3 s goal; {eval_s / handwritten_s:.1f}x the hand-written "
          f"count |")
    print(f"| same rule as hand-written SQL count | {handwritten_s:.2f} s | reference |")
    print(f"| preview of the draft (count + masked sample of {len(preview['sample'])}) | "
          f"{preview_s:.2f} s | {preview_s:.2f} of the 1 s goal |")
    print(f"| real-time re-evaluation for one profile (p95 of 200) | {p95:.1f} ms | "
          f"{p95 / 20:.2f} of the 20 ms goal |")
    print(f"RESULT eval_s={eval_s:.3f} handwritten_sql_s={handwritten_s:.3f} "
          f"preview_s={preview_s:.3f} realtime_p95_ms={p95:.1f} members={run.size} "
          f"profiles={profiles} events={events}")


if __name__ == "__main__":
    main()
