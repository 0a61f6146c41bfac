"""Records into an in-process DuckDB table for matching; nothing decrypted touches disk.

One ciphertext per record holds what matching needs (cdp.fields: the matching forms of
names and address lines, email, phone and birth date); its data key is unwrapped and the
document decrypted (for a full load, in worker processes that each read a range of ids),
and the rows go to DuckDB as Arrow (DuckDB runs in memory: no database file, no spill
directory).
"""

import json
import multiprocessing
import os
import uuid
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import django
import duckdb
import psycopg2
import pyarrow as pa
from django.db import connection

from cdp.privacy.crypto import DecryptionError, data_key_unwrap, decrypt

CHUNK = 20_000
COLUMNS = ["unique_id", "source_id", "profile_id", "first_name", "last_name", "birth_date",
           "email", "email_canonical", "email_local", "email_domain", "phone", "address",
           "postcode", "city", "email_bidx", "phone_bidx", "customer_id_bidx"]


def email_parts(email: str | None) -> tuple[str | None, str | None, str | None]:
    """(canonical email, canonical local part, domain): sub-addressing ("+news") is
    dropped, as every major provider delivers name+tag@ to name@."""
    if not email or "@" not in email:
        return None, None, None
    local, domain = email.rsplit("@", 1)
    local = local.split("+", 1)[0] or local
    return f"{local}@{domain}", local, domain
_SQL = (
    "SELECT r.id, r.source_id, CAST(r.profile_id AS text), CAST(k.id AS text), k.wrapped, "
    "r.match_enc, r.postcode, r.city, r.email_bidx, r.phone_bidx, r.customer_id_bidx "
    "FROM cdp_sourcerecord r LEFT JOIN cdp_datakey k ON k.id = r.data_key_id "
)
_SCHEMA = pa.schema([("unique_id", pa.int64()), ("source_id", pa.int64())]
                    + [(c, pa.string()) for c in COLUMNS[2:]])


def _plain_rows(raw: list[tuple]) -> list[tuple]:
    """Decrypt one chunk of rows as _SQL reads them."""
    out = []
    for rid, source_id, profile_id, key_id, wrapped, match_enc, postcode, city, e, p, c in raw:
        document: dict[str, Any] = {}
        if wrapped is not None and match_enc is not None:
            try:
                key = data_key_unwrap(uuid.UUID(key_id), wrapped)
                document = json.loads(decrypt(match_enc, field="match", key=key) or "{}")
            except DecryptionError:
                document = {}
        email = document.get("email")
        out.append((
            rid, source_id, profile_id, document.get("first_name"),
            document.get("last_name"), document.get("birth_date"), email,
            *email_parts(email), document.get("phone"),
            document.get("address_line1"), postcode or None, (city or "").lower() or None,
            e, p, c,
        ))
    return out


def _batch(rows: list[tuple]) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays(
        [pa.array(column, type=_SCHEMA.field(i).type)
         for i, column in enumerate(zip(*rows, strict=True))] if rows
        else [pa.array([], type=f.type) for f in _SCHEMA], schema=_SCHEMA)


def _chunks(where: str, params: list[Any], *, few: bool = False) -> Iterator[list[tuple]]:
    # A server-side cursor on PostgreSQL: the table is never held whole in memory. A few
    # named records (incremental matching) take one round trip on a plain cursor instead
    # of the named cursor's three.
    with (connection.cursor() if few else connection.chunked_cursor()) as cursor:
        cursor.execute(_SQL + where + " ORDER BY r.id", params)
        while rows := cursor.fetchmany(CHUNK):
            yield rows


def _range_batch(params: dict, snapshot: str, low: int, high: int) -> pa.RecordBatch:
    """Records low <= id < high, read and decrypted in a worker process on a connection
    of its own to the caller's database (params), as of the run's snapshot."""
    conn = psycopg2.connect(**params)
    try:
        conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
        with conn.cursor() as cursor:
            cursor.execute("SET TRANSACTION SNAPSHOT %s", [snapshot])
            cursor.execute(_SQL + "WHERE r.id >= %s AND r.id < %s ORDER BY r.id", [low, high])
            raw = cursor.fetchall()
        return _batch(_plain_rows(raw))
    finally:
        conn.close()


def _parallel(workers: int) -> Iterator[pa.RecordBatch]:
    """Every record, in id ranges read and decrypted by worker processes: the main process
    only gathers Arrow batches, where reading the rows and handing them to the workers
    cost it more than the decryption. One snapshot, exported by a connection held open
    meanwhile, makes the ranges one consistent read (as pg_dump --jobs does)."""
    params = connection.get_connection_params()
    holder = psycopg2.connect(**params)
    try:
        holder.set_session(isolation_level="REPEATABLE READ", readonly=True)
        with holder.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot(), min(id), max(id), count(*) "
                           "FROM cdp_sourcerecord")
            snapshot, low, high, count = cursor.fetchone()
        if not count:
            return
        step = max(1, CHUNK * (high - low + 1) // count)
        # forkserver, not fork: the DuckDB connection's threads must not be forked.
        context = multiprocessing.get_context("forkserver")
        with ProcessPoolExecutor(workers, mp_context=context, initializer=django.setup) as pool:
            pending: deque = deque()
            for start in range(low, high + 1, step):  # at most 2 ranges per worker in flight
                pending.append(pool.submit(_range_batch, params, snapshot, start,
                                           start + step))
                if len(pending) >= 2 * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
    finally:
        holder.close()


def records_arrow(record_ids: list[int] | None = None, workers: int | None = None) -> pa.Table:
    """Records (all, or these ids) decrypted into an Arrow table of COLUMNS. A caller
    matching a few records registers it in DuckDB as it is (no copy) and unregisters it
    after the match.

    Every record, on PostgreSQL outside a transaction: read and decrypted by `workers`
    processes (default: one per core, at most 2). Otherwise (a few records, a caller's
    transaction that other connections cannot see, SQLite) in this process."""
    workers = workers or max(1, min(2, os.cpu_count() or 1))
    if (record_ids is None and workers > 1 and connection.vendor == "postgresql"
            and not connection.in_atomic_block):
        batches = list(_parallel(workers))
    else:
        where, params = "", []
        if record_ids is not None:
            where, params = "WHERE r.id = ANY(%s)", [list(record_ids)]
            if connection.vendor != "postgresql":
                marks = ",".join(["%s"] * len(record_ids)) or "NULL"
                where, params = f"WHERE r.id IN ({marks})", list(record_ids)
        few = record_ids is not None and len(record_ids) <= CHUNK
        batches = [_batch(_plain_rows(raw)) for raw in _chunks(where, params, few=few)]
    return pa.Table.from_batches([b for b in batches if b.num_rows], schema=_SCHEMA)


def records_table(con: duckdb.DuckDBPyConnection, *, name: str = "records",
                  record_ids: list[int] | None = None, workers: int | None = None) -> int:
    """Load records (all, or these ids) into DuckDB table `name`; returns the count."""
    table = records_arrow(record_ids, workers)
    con.register("_incoming", table)
    con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _incoming")  # noqa: S608
    con.unregister("_incoming")
    return table.num_rows
