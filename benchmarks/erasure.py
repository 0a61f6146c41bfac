"""erase_s for benchmarks/privacy.py: erasing one subject in a base of N profiles.

The base (profiles, one record each with its data key and blind indexes, 3 events and a
consent per profile) is COPYed in, as bulk-load practice. Ciphertexts of the base are
random bytes of the right size: erasure never decrypts, it deletes and destroys keys, so
what it costs depends on table and index sizes, not on what the bytes say. Each measured
subject is real: ingested through records_upsert (two sources, one profile), with 100
events, consents and a segment membership, then erased with subject_erase (the path of
`manage.py erase_subject` and the API): lookup by email, register, audit, deletes, key
destruction, suppression list. Destination deletes are queued after commit and not timed.
"""

import io
import os
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta


def _copy(cur, table: str, columns: str, lines) -> None:
    buffer = io.StringIO()
    for count, line in enumerate(lines, 1):
        buffer.write(line)
        if count % 200_000 == 0:
            buffer.seek(0)
            cur.copy_expert(f"COPY {table} ({columns}) FROM STDIN", buffer)
            buffer = io.StringIO()
    buffer.seek(0)
    cur.copy_expert(f"COPY {table} ({columns}) FROM STDIN", buffer)


def load_base(profiles: int, seed: int = 11) -> None:
    """profiles x (profile, record, data key, 3 events, 1 consent), via COPY."""
    from django.db import connection

    rng = random.Random(seed)
    stamp = datetime.now(UTC).isoformat()
    ids = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(profiles)]
    keys = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(profiles)]

    def hexbytes(size: int) -> str:
        return "\\\\x" + os.urandom(size).hex()

    with connection.cursor() as cur:
        cur.execute("INSERT INTO cdp_source (name, kind, description, priority, created_at) "
                    "VALUES ('erase-base', 'crm', '', 100, now()) RETURNING id")
        source_id = cur.fetchone()[0]
        _copy(cur, "cdp_profile", "id, created_at, updated_at",
              (f"{pid}\t{stamp}\t{stamp}\n" for pid in ids))
        _copy(cur, "cdp_datakey", "id, wrapped, created_at",
              (f"{key}\t{hexbytes(65)}\t{stamp}\n" for key in keys))
        _copy(cur, "cdp_sourcerecord",
              "source_id, external_id, profile_id, data_key_id, email_enc, last_name_enc, "
              "email_bidx, phone_bidx, attributes, implicit, received_at, updated_at",
              (f"{source_id}\tB{i}\t{pid}\t{keys[i]}\t{hexbytes(50)}\t{hexbytes(30)}"
               f"\t{os.urandom(32).hex()}\t{os.urandom(32).hex()}\t{{}}\tf\t{stamp}\t{stamp}\n"
               for i, pid in enumerate(ids)))
        now = datetime.now(UTC)
        _copy(cur, "cdp_event",
              "source_id, event_id, profile_id, type, occurred_at, value, properties, "
              "received_at",
              (f"{source_id}\tE{i}-{n}\t{pid}\t{rng.choice(['purchase', 'page_view'])}"
               f"\t{(now - timedelta(days=rng.randint(0, 700))).isoformat()}\t\\N\t{{}}"
               f"\t{stamp}\n"
               for i, pid in enumerate(ids) for n in range(3)))
        _copy(cur, "cdp_consententry",
              "profile_id, source_id, purpose, status, lawful_basis, channel, notice_version, "
              "notice_hash, evidence, captured_at, recorded_at, recorded_by",
              (f"{pid}\t{source_id}\temail_marketing\tgranted\tconsent\tweb\tv1\t\t{{}}"
               f"\t{stamp}\t{stamp}\t\n" for pid in ids))
        cur.execute("VACUUM ANALYZE")


def _subject(number: int, sources: list, segment_id: int) -> str:
    from cdp.models import ConsentEntry, Event, SourceRecord
    from cdp.services.record_parsing import ParsedRecord
    from cdp.services.records import records_upsert
    from segments.evaluation import segment_evaluate

    email = f"subject.{number}@example.org"
    for position, source in enumerate(sources):
        records_upsert(source=source, records=[ParsedRecord(f"subject-{number}-{position}", {
            "email": email, "first_name": "Anne", "last_name": "Morvan",
            "phone": f"+3361234{number:04d}", "city": "Brest"})])
    profile_id = SourceRecord.objects.filter(
        external_id=f"subject-{number}-0").values_list("profile_id", flat=True).get()
    now = datetime.now(UTC)
    Event.objects.bulk_create([
        Event(source=sources[0], event_id=f"subject-{number}-e{n}", profile_id=profile_id,
              type="purchase", occurred_at=now - timedelta(hours=n), value=20,
              received_at=now)
        for n in range(100)
    ])
    ConsentEntry.objects.create(profile_id=profile_id, purpose="email_marketing",
                                status="granted", captured_at=now, source=sources[0])
    segment_evaluate(segment_id=segment_id)
    return email


def bench_erase(runs: int = 5) -> float:
    """Median seconds to erase one subject (designated by email) from the loaded base."""
    from cdp.models import Source
    from cdp.services.dsar import subject_profiles
    from cdp.services.erasure import subject_erase
    from segments.services import segment_save

    sources = [Source.objects.get_or_create(name=name)[0] for name in ("erase-a", "erase-b")]
    segment = segment_save(actor="bench", name="Brest subjects", slug="brest-subjects",
                           definition={"attribute": "city", "op": "eq", "value": "Brest"})
    timings = []
    for number in range(runs):
        email = _subject(number, sources, segment.pk)
        started = time.perf_counter()
        kind, profile_ids = subject_profiles(email=email)
        result = subject_erase(profile_ids=profile_ids, identified_by=kind, actor="bench",
                               reason="benchmark")
        timings.append(time.perf_counter() - started)
        assert result.counts["source_records"] == 2 and result.counts["events"] == 100
    return statistics.median(timings)
