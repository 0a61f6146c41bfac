"""Writing a scoring run's rows: upsert chunk by chunk, then drop the rows it did not touch.

A model keeps one row per scored profile, rewritten by every run. Deleting them all and
inserting again would leave a million dead rows and index entries per run; an upsert
changes no indexed column, so PostgreSQL updates each row in place on its page (a "HOT"
update: the table is stored half full for that, see the 0002 migration) and the indexes
stay the size of the live rows. On PostgreSQL each chunk is a binary COPY of
(profile, value) into a temporary table, then one INSERT .. ON CONFLICT DO UPDATE.
"""

from __future__ import annotations

import datetime as dt
import io
import struct
import uuid
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
from django.db import connection

from cdp.db import bulk_write
from segments.models import ProfileScore

TABLE = ProfileScore._meta.db_table
_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)


class ScoreWriter:
    """Rows of one run of one model; create and use inside the run's transaction.

    On PostgreSQL a chunk is written by a second thread while the caller scores the next
    one: the database works on the upsert while Python predicts (two cores busy instead of
    one). At most one chunk is in flight, the same connection and transaction are used
    (psycopg2 connections may be shared by threads; this cursor is the thread's alone), and
    an error of the writer is raised by the next write() or by finish().
    """

    def __init__(self, *, model_id: int, version_id: int, predictive: bool,
                 stamp: dt.datetime) -> None:
        self.model_id, self.version_id, self.stamp = model_id, version_id, stamp
        self.predictive = predictive
        self.column = "score" if predictive else "cluster"
        self.pending: Future | None = None
        self.pool: ThreadPoolExecutor | None = None
        if connection.vendor == "postgresql":
            connection.ensure_connection()
            self.cursor = connection.connection.cursor()
            self.stage = f"_ml_scores_{uuid.uuid4().hex[:12]}"
            kind = "double precision" if predictive else "smallint"
            self.cursor.execute(f"CREATE TEMPORARY TABLE {self.stage} "
                                f"(profile_id uuid, value {kind}) ON COMMIT DROP")
            self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="score-writer")

    def write(self, ids: np.ndarray, values: np.ndarray) -> None:
        if self.pool is None:
            self._write_rows(ids, values)
            return
        self._wait()
        self.pending = self.pool.submit(self._write_pg, ids, values)

    def _wait(self) -> None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            pending.result()

    def _write_rows(self, ids: np.ndarray, values: np.ndarray) -> None:
        rows = [(self.model_id, uuid.UUID(bytes=bytes(pid)), self.version_id,
                 float(v) if self.predictive else int(v), self.stamp)
                for pid, v in zip(ids, values, strict=True)]
        bulk_write(TABLE, ["model_id", "profile_id", "version_id", self.column, "scored_at"],
                   rows, conflict=["model_id", "profile_id"],
                   update=["version_id", self.column, "scored_at"])

    def _write_pg(self, ids: np.ndarray, values: np.ndarray) -> None:
        value_type, size = (">f8", 8) if self.predictive else (">i2", 2)
        dtype = np.dtype([("n", ">i2"), ("l1", ">i4"), ("profile", "V16"), ("l2", ">i4"),
                          ("value", value_type)])
        rows = np.empty(len(ids), dtype=dtype)
        rows["n"], rows["l1"], rows["profile"], rows["l2"], rows["value"] = (
            2, 16, ids, size, values)
        self.cursor.execute(f"TRUNCATE {self.stage}")
        self.cursor.copy_expert(f"COPY {self.stage} FROM STDIN WITH (FORMAT binary)",
                                io.BytesIO(_HEADER + rows.tobytes() + b"\xff\xff"))
        self.cursor.execute(
            f"INSERT INTO {TABLE} (model_id, profile_id, version_id, {self.column}, "  # noqa: S608
            f"scored_at) SELECT %s, profile_id, %s, value, %s FROM {self.stage} "
            f"ON CONFLICT (model_id, profile_id) DO UPDATE SET "
            f"version_id = EXCLUDED.version_id, {self.column} = EXCLUDED.{self.column}, "
            f"scored_at = EXCLUDED.scored_at",
            [self.model_id, self.version_id, self.stamp])

    def finish(self) -> int:
        """Wait for the last chunk, then delete the model's rows this run did not write
        (profiles no longer eligible); returns how many went."""
        try:
            self._wait()
        finally:
            self.close()
        return ProfileScore.objects.filter(model_id=self.model_id).exclude(
            scored_at=self.stamp).delete()[0]

    def close(self) -> None:
        """Stop the writer thread (after an error too: the transaction is rolled back)."""
        if self.pool is not None:
            if self.pending is not None:
                self.pending.cancel()
            self.pool.shutdown(wait=True)
            self.pool = None
            self.cursor.close()
