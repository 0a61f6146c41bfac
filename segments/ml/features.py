"""Raw feature matrices of a model: traits and attributes of profiles, now or at a cutoff.

Two sources of traits, one set of expressions:
- now: the stored ProfileTraits rows (what scoring reads);
- at a cutoff: segments.traits.traits_as_of_sql(as_of=cutoff), the same SQL over the events
  strictly before the cutoff only (what training reads, so no feature sees the label).
`days_since_*` features count days from the trait's moment to the reference time (now, or
the cutoff). Attributes come from the profile's records (the first set value by source
priority, then record age); records keep no history, so they are read as they are now
(see the README: choose attributes that do not follow behaviour).

On PostgreSQL the numbers leave the database as one binary COPY of fixed-width rows
(NULL -> NaN in SQL), spooled to a temporary file and read back in chunks with numpy:
memory stays flat and no Python object is made per value. Other databases (the SQLite
demo) fetch rows through the cursor.
"""

from __future__ import annotations

import re
import struct
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.db.models.fields.json import KeyTextTransform

from cdp.models import SourceRecord
from segments.ml.spec import DAYS_SINCE
from segments.rules.vocabulary import NUMBER_RE, attribute_key
from segments.traits import traits_as_of_sql

CHUNK_ROWS = 100_000
_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_NUMBER = re.compile(NUMBER_RE)
MISSING = None


@dataclass(frozen=True)
class Layout:
    """The raw columns of a model, in matrix order: traits, numeric attributes, categories."""

    traits: tuple[str, ...]
    numeric_attributes: tuple[str, ...] = ()
    attributes: tuple[str, ...] = ()

    @classmethod
    def of(cls, features: dict[str, Any]) -> Layout:
        return cls(tuple(features.get("traits", [])),
                   tuple(features.get("numeric_attributes", [])),
                   tuple(features.get("attributes", [])))

    @property
    def numbers(self) -> tuple[str, ...]:
        return self.traits + self.numeric_attributes

    @property
    def columns(self) -> tuple[str, ...]:
        return self.numbers + self.attributes


@dataclass
class Frame:
    """Profiles (16-byte UUIDs, numpy 'V16') and their raw features, one row each."""

    ids: np.ndarray
    X: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, index: np.ndarray) -> Frame:
        return Frame(self.ids[index], self.X[index],
                     {k: v[index] for k, v in self.extra.items()})

    def profile_ids(self) -> list[uuid.UUID]:
        raw = self.ids.tobytes()
        return [uuid.UUID(bytes=raw[i:i + 16]) for i in range(0, len(raw), 16)]


def _positional(sql: str, named: dict[str, Any]) -> tuple[str, list[Any]]:
    """%(name)s placeholders to %s, with the values in order of appearance."""
    values: list[Any] = []

    def swap(match: re.Match[str]) -> str:
        values.append(named[match.group(1)])
        return "%s"

    return re.sub(r"%\((\w+)\)s", swap, sql), values


def _days_since(column: str) -> str:
    if connection.vendor == "postgresql":
        return f"EXTRACT(EPOCH FROM (%s - t.{column})) / 86400.0"
    return f"(julianday(%s) - julianday(t.{column}))"


def _trait_sql(name: str, reference: datetime) -> tuple[str, list[Any]]:
    if name in DAYS_SINCE:
        return _days_since(DAYS_SINCE[name]), [reference]
    return f"CAST(t.{name} AS DOUBLE PRECISION)", []


@dataclass(frozen=True)
class Query:
    """SELECT t.profile_id, <columns> <body>: numbers per profile, NULL when missing."""

    columns: tuple[str, ...]
    column_params: tuple[Any, ...]
    body: str
    body_params: tuple[Any, ...]

    @property
    def width(self) -> int:
        return len(self.columns)

    ordered: bool = False

    def sql(self, *, fixed: bool = False) -> tuple[str, list[Any]]:
        """fixed: NULL as NaN, so every row has the same width (binary COPY)."""
        columns = [f"COALESCE({c}, 'NaN'::float8)" if fixed else c for c in self.columns]
        select = ", ".join(["t.profile_id", *columns])
        order = " ORDER BY t.profile_id" if self.ordered else ""
        return (f"SELECT {select} {self.body}{order}",
                [*self.column_params, *self.body_params])


Scope = QuerySet | tuple[str, list[Any]]


def scope_sql(scope: Scope) -> tuple[str, list[Any]]:
    """SQL and params of a scope: a values("pk") queryset or (sql, params) of profile ids."""
    if isinstance(scope, tuple):
        return scope
    sql, params = scope.query.sql_with_params()
    return sql, list(params)


@contextmanager
def materialized(scope: QuerySet) -> Iterator[Scope]:
    """The scope's profile ids in an analyzed temporary table (PostgreSQL), so the queries
    joining it get row estimates right (the consent anti-join behind most scopes is
    estimated at one row, and nested loops over it cost seconds even on small data)."""
    if connection.vendor != "postgresql":
        yield scope
        return
    name = f"_ml_scope_{uuid.uuid4().hex[:12]}"
    sql, params = scope_sql(scope)
    with transaction.atomic(), connection.cursor() as cursor:
        # Without fresh statistics (a new database, just after a load) the consent
        # anti-join is estimated at one row and nested loops over it grow with the cube of
        # the profiles: hash joins are right at any size here.
        cursor.execute("SET LOCAL enable_nestloop = off")
        cursor.execute(f"CREATE TEMPORARY TABLE {name} AS SELECT * FROM ({sql}) AS s(id)",  # noqa: S608
                       params)
        cursor.execute("SET LOCAL enable_nestloop = on")
        cursor.execute(f"ANALYZE {name}")
    try:
        yield f"SELECT id FROM {name}", []  # noqa: S608 - our own table name
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {name}")


def traits_query(
    layout: Layout, *, scope: Scope, reference: datetime, as_of: bool,
    extra: Sequence[str] = (), active_since: datetime | None = None, ordered: bool = False,
) -> Query:
    """One float per trait (and per `extra` trait) for the profiles of `scope` that have
    traits.

    as_of: traits as they were at `reference` (events strictly before it), else the
    stored ones. active_since keeps profiles whose last activity is at or after it.
    ordered: by profile id (scoring writes its rows in index order, see scoring.py).
    """
    columns, params = [], []
    for name in (*layout.traits, *extra):
        sql, values = _trait_sql(name, reference)
        columns.append(sql)
        params += values
    if as_of:
        inner, named = traits_as_of_sql(as_of=reference)
        relation, relation_params = _positional(inner, named)
        relation = f"({relation})"
    else:
        relation, relation_params = "segments_profiletraits", []
    inner_scope, scope_params = scope_sql(scope)
    where = f"t.profile_id IN ({inner_scope})"
    tail = list(scope_params)
    if active_since is not None:
        where += " AND t.last_activity_at >= %s"
        tail.append(active_since)
    body = f"FROM {relation} t WHERE {where}"
    return Query(tuple(columns), tuple(params), body, (*relation_params, *tail), ordered)


def read_numbers(query: Query, chunk_rows: int = CHUNK_ROWS
                 ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(ids, float matrix) chunks of the query's rows."""
    if connection.vendor == "postgresql":
        yield from _read_binary(query, chunk_rows)
    else:
        yield from _read_rows(query, chunk_rows)


def _row_dtype(width: int) -> np.dtype:
    fields = [("n", ">i2"), ("len_id", ">i4"), ("id", "V16")]
    for i in range(width):
        fields += [(f"len{i}", ">i4"), (f"f{i}", ">f8")]
    return np.dtype(fields)


def _read_binary(query: Query, chunk_rows: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    width = query.width
    dtype = _row_dtype(width)
    sql, params = query.sql(fixed=True)
    with tempfile.SpooledTemporaryFile(max_size=64 * 2**20) as spool, \
            connection.cursor() as cursor:
        raw = cursor.cursor
        copy = raw.mogrify(sql, params).decode()
        raw.copy_expert(f"COPY ({copy}) TO STDOUT WITH (FORMAT binary)", spool)
        size = spool.tell()
        spool.seek(0)
        header = spool.read(19)
        if not header.startswith(_SIGNATURE):
            raise ValueError("unexpected COPY BINARY header")
        (extension,) = struct.unpack(">i", header[15:19])
        spool.read(extension)
        rows = (size - 19 - extension - 2) // dtype.itemsize
        while rows > 0:
            take = min(rows, chunk_rows)
            block = np.frombuffer(spool.read(take * dtype.itemsize), dtype=dtype)
            rows -= take
            X = np.empty((take, width), dtype=np.float64)
            for i in range(width):
                X[:, i] = block[f"f{i}"]
            yield block["id"].copy(), X


def _read_rows(query: Query, chunk_rows: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    sql, params = query.sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(chunk_rows):
            ids = np.frombuffer(b"".join(_uuid(r[0]).bytes for r in rows), dtype="V16")
            X = np.array([[np.nan if v is None else float(v) for v in r[1:]] for r in rows],
                         dtype=np.float64).reshape(len(rows), query.width)
            yield ids, X


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def attribute_values(name: str, profile_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The attribute's value per profile: first set value by source priority, then age."""
    key = attribute_key(name)
    expr = F(name) if key is None else KeyTextTransform(key, "attributes")
    found: dict[uuid.UUID, str] = {}
    for start in range(0, len(profile_ids), 10_000):
        rows = (SourceRecord.objects.filter(profile_id__in=profile_ids[start:start + 10_000])
                .annotate(v=expr).filter(v__isnull=False).exclude(v="")
                .order_by("profile_id", "-source__priority", "id")
                .values_list("profile_id", "v"))
        for profile_id, value in rows:
            found.setdefault(profile_id, value)
    return found


def attribute_columns(layout: Layout, ids: np.ndarray) -> list[np.ndarray]:
    """Numeric attributes as floats (NaN unless a plain decimal), then categories (object,
    None when missing), for the profiles `ids` in order."""
    if not layout.numeric_attributes and not layout.attributes:
        return []
    profiles = Frame(ids, np.empty((len(ids), 0))).profile_ids()
    columns = []
    for name in layout.numeric_attributes:
        values = attribute_values(name, profiles)
        columns.append(np.array(
            [float(v) if _NUMBER.match(v := values.get(p, "")) else np.nan for p in profiles],
            dtype=np.float64))
    for name in layout.attributes:
        values = attribute_values(name, profiles)
        columns.append(np.array([values.get(p, MISSING) for p in profiles], dtype=object))
    return columns


def assemble(layout: Layout, ids: np.ndarray, traits: np.ndarray) -> np.ndarray:
    """The raw matrix in layout order: floats, or objects when there are categories."""
    columns = attribute_columns(layout, ids)
    if not columns:
        return traits
    numbers = [traits, *(c.reshape(-1, 1) for c in columns[:len(layout.numeric_attributes)])]
    numeric = np.hstack(numbers) if len(numbers) > 1 else traits
    if not layout.attributes:
        return numeric
    categories = np.column_stack(columns[len(layout.numeric_attributes):])
    return np.hstack([numeric.astype(object), categories])


def read_frame(layout: Layout, *, scope: Scope, reference: datetime, as_of: bool,
               extra: Sequence[str] = (), active_since: datetime | None = None) -> Frame:
    """Every profile of the scope at once (training): ids, raw matrix, extra columns."""
    query = traits_query(layout, scope=scope, reference=reference, as_of=as_of,
                         extra=extra, active_since=active_since)
    width = query.width
    parts = list(read_numbers(query))
    ids = np.concatenate([p[0] for p in parts]) if parts else np.empty(0, dtype="V16")
    numbers = (np.vstack([p[1] for p in parts]) if parts
               else np.empty((0, width), dtype=np.float64))
    n_traits = len(layout.traits)
    extras = {name: numbers[:, n_traits + i] for i, name in enumerate(extra)}
    return Frame(ids, assemble(layout, ids, numbers[:, :n_traits]), extras)
