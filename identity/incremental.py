"""Incremental matching: a new or changed record is matched on arrival.

Candidates come from indexed blocking keys in PostgreSQL (BlockingKey: keyed hashes of
the same column combinations the model blocks on, written for every record by the full
resolution and for each new record here) and the strong identifiers' blind indexes; they
are scored with the saved model (identity.scoring: the batch model's own conditions and
parameters), and the record joins the best profile at or above the link threshold, unless
a person's decision forbids it, or goes to review between the thresholds. Splink's own
new-record matcher is not used (withdrawn upstream, and hundreds of ms a call).
"""

import hashlib
import io
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa
import pyarrow.csv as pa_csv
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, Subquery
from django.utils import timezone

from cdp.db import bulk_write, table_reload
from cdp.fields import INDEXED_FIELDS, bidx_column
from cdp.models import SourceRecord
from identity.loading import records_arrow
from identity.models import (
    BlockingKey,
    IdentityModel,
    MatchReview,
    RecordSplit,
    TermFrequency,
)
from identity.reassign import records_reassign
from identity.scoring import score_rows, tf_columns, tf_key

MAX_CANDIDATES = 300
_RULE_COLUMN = re.compile(r'l\."(\w+)"')


def blocking_rules(model: dict) -> list[tuple[str, ...]]:
    """The column combinations the model blocks on (each an AND of equalities)."""
    return [tuple(_RULE_COLUMN.findall(rule["blocking_rule"]))
            for rule in model["blocking_rules_to_generate_predictions"]]


def _secret() -> str:
    return hashlib.sha256(b"cdp-blocking:" + settings.CDP_BLIND_INDEX_KEY.encode()).hexdigest()


def _key(secret: str, columns: tuple[str, ...], values: tuple) -> str:
    text = f"{secret}|{','.join(columns)}|{'|'.join(str(v) for v in values)}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def incremental_index(con: duckdb.DuckDBPyConnection, model: dict,
                      table: str = "records") -> Callable[[], int]:
    """Compute in DuckDB what incremental matching looks up (term frequencies and every
    record's blocking keys) and return its write to PostgreSQL: a callable that needs
    neither `con` nor the caller's thread, so a full run can overlap it with its own
    writes. It returns how many keys it wrote."""
    frequencies = _term_frequency_rows(con, model, table)
    keys = _blocking_key_rows(con, model, table)

    def write() -> int:
        _term_frequencies_write(frequencies)
        return _blocking_keys_write(keys)
    return write


def _blocking_key_rows(con: duckdb.DuckDBPyConnection, model: dict,
                       table: str) -> pa.Table | None:
    """(record_id, key) of every record and blocking rule, computed in DuckDB (SHA-256
    keyed by a secret derived from the blind index key); None if the model has none."""
    secret = _secret()
    parts = []
    for columns in blocking_rules(model):
        present = " AND ".join(f'"{c}" IS NOT NULL' for c in columns)
        joined = " || '|' || ".join(f'CAST("{c}" AS VARCHAR)' for c in columns)
        parts.append(f"SELECT unique_id, substr(sha256('{secret}|{','.join(columns)}|' || "  # noqa: S608
                     f"{joined}), 1, 24) AS key FROM {table} WHERE {present}")
    return con.sql(" UNION ".join(parts)).to_arrow_table() if parts else None


def _blocking_keys_write(keys: pa.Table | None) -> int:
    table = BlockingKey._meta.db_table
    if keys is None:
        BlockingKey.objects.all().delete()
        return 0
    if connection.vendor == "postgresql":
        # Millions of keys: Arrow -> CSV in memory -> one COPY, indexes rebuilt.
        buffer = io.BytesIO()
        pa_csv.write_csv(keys, buffer, pa_csv.WriteOptions(include_header=False))
        buffer.seek(0)
        table_reload(table, ["record_id", "key"], buffer)
        return keys.num_rows
    with transaction.atomic():
        BlockingKey.objects.all().delete()
        columns = keys.to_pydict()
        bulk_write(table, ["record_id", "key"],
                   list(zip(columns["unique_id"], columns["key"], strict=True)), fresh=True)
    return keys.num_rows


def _term_frequency_rows(con: duckdb.DuckDBPyConnection, model: dict,
                         table: str) -> list[TermFrequency]:
    """As Splink computes them (share of non-null values), stored by keyed hash of the
    value."""
    rows = []
    for column in tf_columns(model):
        for value, share in con.execute(
            f'SELECT "{column}", count(*) / sum(count(*)) OVER () FROM {table} '  # noqa: S608
            f'WHERE "{column}" IS NOT NULL GROUP BY "{column}"'
        ).fetchall():
            rows.append(TermFrequency(column=column, key=tf_key(column, value),
                                      frequency=share))
    return rows


def _term_frequencies_write(rows: list[TermFrequency]) -> int:
    with transaction.atomic():
        TermFrequency.objects.all().delete()
        TermFrequency.objects.bulk_create(rows, batch_size=5000)
    return len(rows)


@dataclass
class MatchOutcome:
    joined: dict[int, object] = field(default_factory=dict)  # record -> profile
    touched: set = field(default_factory=set)  # profiles that gained or lost records
    reviews: int = 0
    candidates: int = 0
    elapsed_ms: float = 0.0


def _deterministic_sql() -> tuple[str, ...]:
    """What the batch's deterministic pass would link (the same strong identifiers, with
    the same guards), as expressions over a scored pair's columns, so the scoring query
    computes them too: per strong key the linking value (NULL when it does not link),
    then whether the email typo rule links."""
    from identity.deterministic import _KEY, _blocked_sql

    def guard(kind: str) -> str:
        return _blocked_sql(kind).replace("lower(email)", "lower(email_l)").replace(
            "lower(phone)", "lower(phone_l)")

    extra = tuple(f"CASE WHEN {_KEY[kind]}_l = {_KEY[kind]}_r{guard(kind)} "
                  f"THEN {_KEY[kind]}_l END" for kind in settings.CDP_IDENTITY_STRONG_KEYS)
    return (*extra, "coalesce(email_local_l = email_local_r AND email_domain_l <> email_domain_r "
            "AND levenshtein(email_domain_l, email_domain_r) <= 2 "
            f"AND length(email_local_l) >= 6{guard('email')}, false)")


def _deterministic(rows: list[tuple]) -> list[tuple[int, int]]:
    """The pairs of score_rows(..., extra=_deterministic_sql()) that link whatever the
    model says, as in the batch: a strong key's value not flagged as too shared, or the
    email typo rule."""
    from identity.deterministic import _flag_id
    from identity.models import IdentifierFlag

    kinds = settings.CDP_IDENTITY_STRONG_KEYS
    found = [(row[0], row[1], [(kind, value) for kind, value in zip(kinds, row[3:], strict=False)
                               if value is not None], row[-1]) for row in rows]
    found = [item for item in found if item[2] or item[3]]
    if not found:
        return []
    flagged = set(IdentifierFlag.objects.values_list("bidx", flat=True))
    return [(a, b) for a, b, keys, typo in found
            if typo or any(_flag_id(kind, value) not in flagged for kind, value in keys)]


def _candidates(keys: set[str], identifiers: dict[str, set[str]],
                exclude: list[int]) -> set[int]:
    """Records sharing a blocking key or a strong identifier's blind index, each source
    capped at MAX_CANDIDATES, in one round trip (indexed lookups)."""
    parts, params = [], []
    if keys:
        parts.append(f"(SELECT record_id FROM {BlockingKey._meta.db_table} "  # noqa: S608
                     f"WHERE key IN ({', '.join(['%s'] * len(keys))}) LIMIT {MAX_CANDIDATES})")
        params += sorted(keys)
    table = SourceRecord._meta.db_table
    for name, values in identifiers.items():
        if values:
            parts.append(f"(SELECT id FROM {table} WHERE {bidx_column(name)} IN "  # noqa: S608
                         f"({', '.join(['%s'] * len(values))}) LIMIT {MAX_CANDIDATES})")
            params += sorted(values)
    if not parts:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(" UNION ".join(parts), params)
        return {row[0] for row in cursor.fetchall()} - set(exclude)


def _forbidden(record_ids: list[int]) -> dict[int, set[int]]:
    """record -> records it must never share a profile with."""
    apart: dict[int, set[int]] = {r: set() for r in record_ids}
    # Unmerges are people's decisions, a handful of rows: read them all at once.
    for split_record, others in RecordSplit.objects.values_list("record_id", "apart_from"):
        if split_record in apart:
            apart[split_record] |= set(others)
        for record in record_ids:
            if record in others:
                apart[record].add(split_record)
    for a, b in MatchReview.objects.filter(
            Q(record_a_id__in=record_ids) | Q(record_b_id__in=record_ids),
            status=MatchReview.Status.REJECTED).values_list("record_a_id", "record_b_id"):
        if a in apart:
            apart[a].add(b)
        if b in apart:
            apart[b].add(a)
    return apart


_local = threading.local()


def _connection() -> duckdb.DuckDBPyConnection:
    """One in-memory DuckDB per thread and process, kept between matches: connecting
    costs about 9 ms of a 40 ms match. (A connection is never shared across a fork.)"""
    pid, con = getattr(_local, "owner", (None, None))
    if pid != os.getpid() or con is None:
        # One thread: a match scores a few dozen pairs, which DuckDB's thread pool only
        # slows down, the more so on busy cores (p50 45.6 -> 32-38 ms at 1M records).
        con = duckdb.connect(config={"threads": 1})
        _local.owner = (os.getpid(), con)
    return con


def records_match(*, record_ids: list[int], actor: str = "celery:identity_match") -> MatchOutcome:
    """Match these records (new or changed) against everyone else, and apply."""
    started = time.perf_counter()
    outcome = MatchOutcome()
    model_row = IdentityModel.objects.filter(active=True).only(
        "version", "splink_model").first()
    if model_row is None or not record_ids:
        return outcome
    model = model_row.splink_model
    con = _connection()
    try:
        new_records = records_arrow(record_ids, workers=1)
        con.register("new_records", new_records)
        secret, keys = _secret(), []
        news = new_records.to_pylist()
        for values in news:
            for columns in blocking_rules(model):
                if all(values.get(c) is not None for c in columns):
                    keys.append((values["unique_id"],
                                 _key(secret, columns, tuple(values[c] for c in columns))))
        BlockingKey.objects.bulk_create([BlockingKey(record_id=r, key=k) for r, k in keys],
                                        ignore_conflicts=True)
        identifiers = {name: {v[bidx_column(name)] for v in news if v[bidx_column(name)]}
                       for name in INDEXED_FIELDS}
        candidates = _candidates({k for _, k in keys}, identifiers, record_ids)
        outcome.candidates = len(candidates)
        if not candidates:
            return outcome
        con.register("candidates", records_arrow(sorted(candidates), workers=1))
        adjusted = tf_columns(model)
        tf_values = {(v["unique_id"], column): v.get(column) for v in news
                     for column in adjusted}
        frequencies = dict(TermFrequency.objects.filter(
            key__in={tf_key(c, value) for (_, c), value in tf_values.items() if value})
            .values_list("key", "frequency"))
        rows = score_rows(con, model, model_row.version, frequencies, tf_values,
                          extra=_deterministic_sql())
        scored = [row[:3] for row in rows] + [(a, b, 1.0) for a, b in _deterministic(rows)]
    finally:
        # Decrypted values stay in memory only while a match runs.
        for table in ("new_records", "candidates"):
            con.unregister(table)
    _apply(scored, record_ids, model_row.version, actor, outcome)
    outcome.elapsed_ms = (time.perf_counter() - started) * 1000
    return outcome


def _apply(scored: list[tuple[int, int, float]], record_ids: list[int], version: int,
           actor: str, outcome: MatchOutcome) -> None:
    link, review = settings.CDP_IDENTITY_LINK_THRESHOLD, settings.CDP_IDENTITY_REVIEW_THRESHOLD
    # The profiles of the scored records and all their members, in one query.
    involved = SourceRecord.objects.filter(
        pk__in={r for pair in scored for r in pair[:2]}).values("profile_id")
    members: dict[object, set[int]] = {}
    for record, profile_id in SourceRecord.objects.filter(
            profile_id__in=Subquery(involved)).values_list("pk", "profile_id"):
        members.setdefault(profile_id, set()).add(record)
    profile_of = {record: profile_id for profile_id, records in members.items()
                  for record in records}
    apart = _forbidden(record_ids)
    moves, scores, reviews, now = {}, {}, [], timezone.now()
    for record in record_ids:
        mine = sorted((p, c) for r, c, p in scored if r == record)
        mine.reverse()
        for probability, candidate in mine:
            target = profile_of.get(candidate)
            if probability < review or target is None:
                break
            if apart[record] & members.get(target, set()):
                continue  # a person said never
            if probability >= link:
                if target != profile_of.get(record):
                    moves[record], scores[record] = target, probability
            else:
                a, b = min(record, candidate), max(record, candidate)
                reviews.append(MatchReview(record_a_id=a, record_b_id=b,
                                           probability=probability, model_version=version,
                                           created_at=now))
            break
    if moves:
        outcome.touched = records_reassign(
            moves=moves, rule=f"incremental:model:v{version}", actor=actor, scores=scores,
            audit_each=False).touched
    outcome.joined = moves
    outcome.reviews = len(MatchReview.objects.bulk_create(reviews, ignore_conflicts=True))
