"""Fast bulk writes: PostgreSQL COPY into a staging table, then one INSERT .. ON CONFLICT.

Django's bulk_create spends most of its time building model instances and SQL; ingestion
writes plain tuples instead. Other databases (the SQLite demo) use executemany with the
same ON CONFLICT clause, so both paths have the same semantics.
"""

import datetime as dt
import io
import json
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import psycopg2
from django.conf import settings
from django.db import IntegrityError, connection, connections, transaction

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: Any) -> str:
    if value is None:
        return "\\N"
    kind = type(value)
    if kind is str:
        return value.translate(_ESCAPES)
    if kind is bytes or kind is memoryview:
        return "\\\\x" + bytes(value).hex()
    if kind is bool:
        return "t" if value else "f"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":")).translate(_ESCAPES)
    if isinstance(value, dt.datetime | dt.date | Decimal | uuid.UUID | int | float):
        return str(value)
    return str(value).translate(_ESCAPES)


def copy_rows(cursor: Any, table: str, columns: Sequence[str],
              rows: Sequence[Sequence[Any]]) -> None:
    """COPY plain tuples into a PostgreSQL table (10x cheaper to format than INSERT
    parameters: bytea and uuid values go out as text)."""
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(_copy_text(v) for v in row))
        buffer.write("\n")
    buffer.seek(0)
    cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer)


def _db_value(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, dt.datetime):
        return connection.ops.adapt_datetimefield_value(value)
    if isinstance(value, Decimal):
        return str(value)
    return value


def bulk_write(
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    conflict: Sequence[str] | None = None,
    update: Sequence[str] | None = None,
    fresh: bool = False,
) -> None:
    """Insert rows; on a `conflict` key clash update `update` columns, or skip if none.

    fresh: the caller checked these keys do not exist yet, so COPY straight into the
    table (half the work of staging); if a concurrent writer inserted one meanwhile, the
    COPY is rolled back to a savepoint and the staged ON CONFLICT path runs instead.
    Must run inside a transaction (the staging table lives until commit).
    """
    if not rows:
        return
    if fresh and connection.vendor == "postgresql":
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                copy_rows(cursor, table, columns, rows)
            return
        except (IntegrityError, psycopg2.IntegrityError):
            if not conflict:
                raise
    cols = ", ".join(columns)
    on_conflict = ""
    if conflict:
        target = ", ".join(conflict)
        if update:
            sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in update)
            on_conflict = f" ON CONFLICT ({target}) DO UPDATE SET {sets}"
        else:
            on_conflict = f" ON CONFLICT ({target}) DO NOTHING"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            stage = f"_stage_{table}"
            cursor.execute(f"DROP TABLE IF EXISTS {stage}")  # noqa: S608 - identifiers are ours
            cursor.execute(
                f"CREATE TEMP TABLE {stage} ON COMMIT DROP AS "  # noqa: S608
                f"SELECT {cols} FROM {table} WITH NO DATA"
            )
            copy_rows(cursor, stage, columns, rows)
            cursor.execute(
                f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {stage}{on_conflict}"  # noqa: S608
            )
        else:
            marks = ", ".join(["%s"] * len(columns))
            cursor.executemany(
                f"INSERT INTO {table} ({cols}) VALUES ({marks}){on_conflict}",  # noqa: S608
                [[_db_value(v) for v in row] for row in rows],  # SQLite demo path
            )


def staged_table(cursor: Any, name: str, columns: Sequence[tuple[str, str]],
                 rows: Sequence[Sequence[Any]]) -> str:
    """A PostgreSQL temporary table (dropped at commit) loaded with COPY, for one UPDATE ..
    FROM over many rows instead of a query per row. `columns`: (name, SQL type). Must run
    inside a transaction; returns the table name."""
    cursor.execute(f"DROP TABLE IF EXISTS {name}")  # noqa: S608 - identifiers are ours
    cursor.execute(f"CREATE TEMP TABLE {name} ("  # noqa: S608
                   + ", ".join(f"{col} {kind}" for col, kind in columns) + ") ON COMMIT DROP")
    copy_rows(cursor, name, [col for col, _ in columns], rows)
    cursor.execute(f"ANALYZE {name}")  # noqa: S608
    return name


INLINE_ROWS = 500


def staged_rows(cursor: Any, name: str, columns: Sequence[tuple[str, str]],
                rows: Sequence[Sequence[Any]]) -> str:
    """Rows to join an UPDATE .. FROM on: a few inline as a VALUES list (one statement,
    where a staged table costs four round trips, which is most of a one-record identity
    change), more through staged_table. Returns SQL to put after FROM or JOIN."""
    if len(rows) > INLINE_ROWS:
        return staged_table(cursor, name, columns, rows)
    names = ", ".join(col for col, _ in columns)
    if not rows:
        nulls = ", ".join(f"NULL::{kind} AS {col}" for col, kind in columns)
        return f"(SELECT {nulls} WHERE false)"
    row_sql = "(" + ", ".join(f"%s::{kind}" for _, kind in columns) + ")"
    values = b", ".join(cursor.mogrify(row_sql, [str(v) if isinstance(v, uuid.UUID) else v
                                                 for v in row]) for row in rows)
    return f"(SELECT * FROM (VALUES {values.decode()}) AS {name} ({names}))"  # noqa: S608 - mogrify quoted the values


def table_reload(table: str, columns: Sequence[str], csv_data: Any) -> None:
    """Replace a derived table's whole content (PostgreSQL): TRUNCATE, drop its indexes and
    unique/check constraints, COPY the CSV (a file-like of bytes, no header), then rebuild
    them: updating indexes row by row is what makes a reload of millions of rows slow.
    Foreign keys stay (dropping one alters the other table too); a table reloaded this way
    is better without them (db_constraint=False). Readers wait for the commit (TRUNCATE's
    lock) and never see a half-loaded table."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype IN ('u', 'c', 'x')", [table])
        constraints = cursor.fetchall()
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname "
            "NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
            [table, table])
        indexes = cursor.fetchall()
        cursor.execute(f"TRUNCATE {table}")  # noqa: S608 - identifiers are ours
        for name, _ in constraints:
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')  # noqa: S608
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)",
                           csv_data)
        # Deferred checks of a foreign key left on the table must run before its indexes
        # can be built (PostgreSQL refuses DDL with pending trigger events).
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for _, definition in indexes:
            cursor.execute(definition)
        for name, definition in constraints:
            cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')  # noqa: S608
        cursor.execute(f"ANALYZE {table}")  # noqa: S608


def refresh_planner_stats(table: str) -> None:
    """ANALYZE a table that a bulk load is growing, so lookups keep using its indexes.

    Autovacuum lags behind a fast load; with stale statistics PostgreSQL plans sequential
    scans for the per-chunk lookups and the import turns quadratic.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {table}")


def analytic_memory() -> None:
    """Give the current transaction's big set queries room (segment evaluation, preview).

    With PostgreSQL's default 4 MB, grouping millions of events spills sorts to disk and
    turns bitmap scans lossy. SET LOCAL ends with the transaction; call inside atomic().
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('work_mem', %s, true)",
                           [settings.CDP_ANALYTICS_WORK_MEM])


class Background:
    """Run `work` on its own thread and database connection, committed on its own, while
    the caller goes on; wait() returns its seconds and re-raises its error.

    It runs at once instead inside a transaction (another connection would not see that
    transaction's rows, and could wait on its locks while the caller waits on it) and off
    PostgreSQL (SQLite takes one writer at a time).
    """

    def __init__(self, work: Callable[[], Any]) -> None:
        self.seconds, self._error = 0.0, None
        self._thread: threading.Thread | None = None
        if connection.vendor != "postgresql" or connection.in_atomic_block:
            self._run(work, own_connection=False)
        else:
            self._thread = threading.Thread(target=self._run, args=(work, True), daemon=True)
            self._thread.start()

    @property
    def overlapped(self) -> bool:
        return self._thread is not None

    def _run(self, work: Callable[[], Any], own_connection: bool) -> None:
        started = time.perf_counter()
        try:
            work()
        except BaseException as error:  # noqa: BLE001 - handed to the caller in wait()
            self._error = error
        finally:
            self.seconds = time.perf_counter() - started
            if own_connection:
                connections.close_all()  # this thread's connections only

    def wait(self) -> float:
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error
        return self.seconds
