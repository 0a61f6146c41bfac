"""The deterministic pass: records sharing a strong identifier are the same person.

Set-based in DuckDB over the blind indexes: per strong key, each record links to the
lowest record id holding the same value (a star per value), then connected components by
label propagation. Merge guards: blocked values (empty, "null", "anonymous", "-1",
"0000…", "test@…", a configurable list of patterns on the decrypted identifiers) never
link; a value shared by more than CDP_IDENTITY_MAX_SHARED records (a shop's generic
phone) is flagged and ignored as a strong key.
"""

from dataclasses import dataclass, field

import duckdb
from django.conf import settings

from cdp.privacy.crypto import blind_index

# Which column of the records table holds the clear identifier a pattern applies to.
_CLEAR = {"email": "email", "phone": "phone", "customer_id": None}
# The key each strong identifier links on: emails by their canonical form (without a
# "+tag"), decrypted in memory; the others by blind index.
_KEY = {"email": "email_canonical", "phone": "phone_bidx", "customer_id": "customer_id_bidx"}


@dataclass
class Deterministic:
    edges: list[tuple[int, int]] = field(default_factory=list)
    flagged: list[tuple[str, str, int]] = field(default_factory=list)  # kind, bidx, count


def _flag_id(kind: str, value: str) -> str:
    """How a flagged value is stored: a blind index, never the value (emails are keyed
    on their canonical form in memory, so they are hashed here)."""
    return blind_index(kind, value) if _KEY[kind].startswith("email") else value


def _blocked_sql(kind: str) -> str:
    column = _CLEAR.get(kind)
    if column is None or not settings.CDP_IDENTITY_BLOCKED_PATTERNS:
        return ""
    # One alternation, not one regexp_matches per pattern: the same test, and a third of
    # the planning time of an incremental match's query.
    pattern = "|".join(f"(?:{p})" for p in settings.CDP_IDENTITY_BLOCKED_PATTERNS)
    quoted = pattern.replace("'", "''")
    return f" AND NOT coalesce(regexp_matches(lower({column}), '{quoted}'), false)"


def deterministic_edges(con: duckdb.DuckDBPyConnection, *, table: str = "records",
                        exclude: set[int] | None = None) -> Deterministic:
    """Strong-key edges (record, root record) and the values flagged as too shared.

    exclude: records whose strong keys must not link them directly (split records: the
    caller weighs those edges under constraints instead).
    """
    result = Deterministic()
    limit = settings.CDP_IDENTITY_MAX_SHARED
    con.execute("CREATE OR REPLACE TEMP TABLE _excluded (unique_id BIGINT)")
    if exclude:
        con.executemany("INSERT INTO _excluded VALUES (?)", [(r,) for r in exclude])
    for kind in settings.CDP_IDENTITY_STRONG_KEYS:
        key = _KEY[kind]
        values = (
            f"SELECT {key} AS key, unique_id FROM {table} WHERE {key} IS NOT NULL"  # noqa: S608
            f"{_blocked_sql(kind)} AND unique_id NOT IN (SELECT unique_id FROM _excluded)"
        )
        counts = (f"SELECT key, count(*) AS n, min(unique_id) AS root "  # noqa: S608
                  f"FROM ({values}) GROUP BY key")
        result.flagged += [
            (kind, _flag_id(kind, value), n) for value, n in
            con.execute(f"SELECT key, n FROM ({counts}) WHERE n > ?", [limit]).fetchall()  # noqa: S608
        ]
        result.edges += con.execute(
            f"SELECT v.unique_id, c.root FROM ({values}) v JOIN ({counts}) c USING (key) "  # noqa: S608
            "WHERE c.n BETWEEN 2 AND ? AND v.unique_id <> c.root", [limit]
        ).fetchall()
    result.edges += _email_typo_edges(con, table, limit)
    return result


def _email_typo_edges(con: duckdb.DuckDBPyConnection, table: str,
                      limit: int) -> list[tuple[int, int]]:
    """The same distinctive local part (6+ characters) at domains one or two edits apart
    (gmial.com, orange.fe, yaho.fr): a mistyped address of the same person. One piece of
    evidence cannot outweigh Splink's prior, but this one is as strong as an equal email.
    """
    return con.execute(
        f"WITH e AS (SELECT unique_id, email_local, email_domain FROM {table} "  # noqa: S608
        f"WHERE length(email_local) >= 6{_blocked_sql('email')} "
        "AND unique_id NOT IN (SELECT unique_id FROM _excluded)), "
        "common AS (SELECT email_local FROM e GROUP BY email_local HAVING count(*) <= ?) "
        "SELECT a.unique_id, min(b.unique_id) FROM e a JOIN e b USING (email_local) "
        "WHERE email_local IN (SELECT email_local FROM common) AND b.unique_id < a.unique_id "
        "AND a.email_domain <> b.email_domain "
        "AND levenshtein(a.email_domain, b.email_domain) <= 2 GROUP BY a.unique_id",
        [limit],
    ).fetchall()
