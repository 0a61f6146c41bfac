"""Scoring pairs with a saved Splink model, without Splink: for incremental matching.

Splink's per-call cost (SQL generation, table registration) is hundreds of ms; matching
one new record must take tens. The saved model holds everything needed: each
comparison's levels (their DuckDB SQL conditions), m and u probabilities, term-frequency
settings and the prior. The comparison vector is computed in DuckDB with the model's own
conditions, the weights in Python with Splink's formulas, so batch and incremental
decisions agree (a test checks it against Splink's predict). Term frequencies come from
the last full resolution, stored by keyed hash of the value (never the name itself).
"""

import math
from dataclasses import dataclass

import duckdb

from cdp.privacy.crypto import keyed_hash
from identity.loading import COLUMNS


@dataclass(frozen=True)
class Level:
    gamma: int
    condition: str
    bayes_factor: float
    tf_column: str | None
    tf_weight: float
    u: float


@dataclass(frozen=True)
class CompiledModel:
    prior_weight: float
    comparisons: tuple[tuple[str, tuple[Level, ...]], ...]
    gammas: str  # the select list of the comparison vector
    pairs: str  # new_records x candidates, each column as <name>_l and <name>_r

    def sql(self, extra: tuple[str, ...] = ()) -> str:
        """The comparison vector of every pair, plus extra expressions over its columns."""
        more = "".join(f", {expression}" for expression in extra)
        return f"SELECT unique_id_l, unique_id_r, {self.gammas}{more} FROM ({self.pairs})"  # noqa: S608


def _compile(model: dict) -> CompiledModel:
    prior = model["probability_two_random_records_match"]
    comparisons, cases = [], []
    for comparison in model["comparisons"]:
        name = comparison["output_column_name"]
        real = [lvl for lvl in comparison["comparison_levels"] if not lvl.get("is_null_level")]
        levels, whens = [], []
        for lvl in comparison["comparison_levels"]:
            if lvl.get("is_null_level"):
                whens.append(f"WHEN {lvl['sql_condition']} THEN -1")
                continue
            gamma = len(real) - 1 - real.index(lvl)
            m, u = lvl.get("m_probability"), lvl.get("u_probability")
            factor = m / u if m and u else 1.0
            levels.append(Level(gamma, lvl["sql_condition"], factor,
                                lvl.get("tf_adjustment_column"),
                                lvl.get("tf_adjustment_weight", 1.0), u or 0.0))
            if lvl["sql_condition"].strip().upper() == "ELSE":
                whens.append(f"ELSE {gamma}")
            else:
                whens.append(f"WHEN {lvl['sql_condition']} THEN {gamma}")
        if not whens[-1].startswith("ELSE"):
            whens.append("ELSE 0")
        cases.append(f"CASE {' '.join(whens)} END AS gamma_{name}")
        comparisons.append((name, tuple(levels)))
    left = ", ".join(f'l."{c}" AS "{c}_l"' for c in COLUMNS)
    right = ", ".join(f'r."{c}" AS "{c}_r"' for c in COLUMNS)
    pairs = (f"SELECT {left}, {right} FROM new_records l, candidates r "  # noqa: S608
             "WHERE l.unique_id <> r.unique_id")
    return CompiledModel(math.log2(prior / (1 - prior)), tuple(comparisons),
                         ", ".join(cases), pairs)


_COMPILED: dict[int, CompiledModel] = {}


def compiled_model(model: dict, version: int) -> CompiledModel:
    """The model compiled once per version (a version's parameters never change)."""
    if version not in _COMPILED:
        _COMPILED.clear()
        _COMPILED[version] = _compile(model)
    return _COMPILED[version]


def tf_key(column: str, value: str) -> str:
    return keyed_hash(f"tf:{column}:{value}")[:32]


def tf_columns(model: dict) -> list[str]:
    """The columns whose term frequencies adjust the model's weights."""
    return sorted({lvl["tf_adjustment_column"] for c in model["comparisons"]
                   for lvl in c["comparison_levels"] if lvl.get("tf_adjustment_column")})


def score(con: duckdb.DuckDBPyConnection, model: dict, version: int,
          term_frequency: dict[str, float],
          values: dict[tuple[int, str], str | None] | None = None,
          ) -> list[tuple[int, int, float]]:
    """(new record, candidate, match probability) for every pair of the tables
    new_records x candidates (both with identity.loading's columns). values: the new
    records' (unique_id, column) -> value for the term-frequency columns, when the caller
    has them already (read from new_records otherwise)."""
    return [row[:3] for row in score_rows(con, model, version, term_frequency, values)]


def score_rows(con: duckdb.DuckDBPyConnection, model: dict, version: int,
               term_frequency: dict[str, float],
               values: dict[tuple[int, str], str | None] | None = None,
               extra: tuple[str, ...] = ()) -> list[tuple]:
    """score()'s rows, each followed by the extra SQL expressions' values (computed in
    the same query over the pair's <column>_l and <column>_r: a DuckDB statement is about
    a millisecond of an incremental match)."""
    compiled = compiled_model(model, version)
    rows = con.execute(compiled.sql(extra)).fetchall()
    if values is None:
        values = {}
        for column in tf_columns(model):
            for uid, value in con.execute(
                f'SELECT unique_id, "{column}" FROM new_records'  # noqa: S608
            ).fetchall():
                values[(uid, column)] = value
    out = []
    for row in rows:
        weight = compiled.prior_weight
        for position, (_, levels) in enumerate(compiled.comparisons):
            gamma = row[2 + position]
            if gamma == -1:
                continue
            level = next((lvl for lvl in levels if lvl.gamma == gamma), None)
            if level is None:
                continue
            weight += math.log2(level.bayes_factor) if level.bayes_factor > 0 else 0
            if level.tf_column and level.u:
                value = values.get((row[0], level.tf_column))
                tf = term_frequency.get(tf_key(level.tf_column, value)) if value else None
                if tf:
                    weight += level.tf_weight * math.log2(level.u / tf)
        out.append((row[0], row[1], 1 / (1 + 2 ** -weight), *row[2 + len(compiled.comparisons):]))
    return out
