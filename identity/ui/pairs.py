"""Scores and explanations of pairs among a handful of records, with a saved model.

The profile graph and the review page need each comparison's match weight for a few
pairs; identity.scoring computes only the total, so the same compiled conditions and
formulas are applied here with the breakdown kept (a test checks both totals agree).
"""

import math
from dataclasses import dataclass

import duckdb

from identity.loading import records_table
from identity.models import IdentityModel, TermFrequency
from identity.scoring import compiled_model, tf_key

MAX_RECORDS = 12


@dataclass(frozen=True)
class PairScore:
    a: int
    b: int
    probability: float
    weight: float
    # Per comparison: {"comparison", "level", "weight"} as MatchReview.explanation.
    steps: tuple[dict, ...]


def prior_weight(model: dict) -> float | None:
    """log2 of the prior odds: the match weight every pair starts from."""
    prior = model.get("probability_two_random_records_match")
    if not prior or not 0 < prior < 1:
        return None
    return math.log2(prior / (1 - prior))


def level_labels(comparison: dict) -> dict[int, str]:
    """gamma value -> level label (the null level is -1; the others count down to 0)."""
    real = [lvl for lvl in comparison["comparison_levels"] if not lvl.get("is_null_level")]
    labels = {-1: "null"}
    for position, level in enumerate(real):
        labels[len(real) - 1 - position] = level.get("label_for_charts", "")
    return labels


def _tf_values(con: duckdb.DuckDBPyConnection, columns: set[str]) -> dict[tuple[int, str], str]:
    values = {}
    for column in columns:
        if not column.isidentifier():  # a name from the stored model JSON, quoted into SQL
            raise ValueError("unexpected column name in the identity model")
        for uid, value in con.execute(
            f'SELECT unique_id, "{column}" FROM new_records'  # noqa: S608 - model's column
        ).fetchall():
            values[(uid, column)] = value
    return values


def pair_scores(*, record_ids: list[int], model: IdentityModel) -> list[PairScore]:
    """Every pair (a < b) among these records (the first MAX_RECORDS), scored and
    explained with the model."""
    ids = sorted(record_ids)[:MAX_RECORDS]
    if len(ids) < 2 or not model.splink_model.get("comparisons"):
        return []
    compiled = compiled_model(model.splink_model, model.version)
    labels = {c["output_column_name"]: level_labels(c)
              for c in model.splink_model["comparisons"]}
    con = duckdb.connect()
    try:
        records_table(con, name="new_records", record_ids=ids, workers=1)
        con.execute("CREATE TABLE candidates AS SELECT * FROM new_records")
        rows = [row for row in con.execute(compiled.sql()).fetchall() if row[0] < row[1]]
        tf_columns = {lvl.tf_column for _, levels in compiled.comparisons for lvl in levels
                      if lvl.tf_column}
        values = _tf_values(con, tf_columns)
    finally:
        con.close()
    keys = {tf_key(column, value) for (_, column), value in values.items() if value}
    frequencies = dict(TermFrequency.objects.filter(key__in=keys)
                       .values_list("key", "frequency"))
    out = []
    for row in rows:
        steps, total = [], compiled.prior_weight
        for position, (name, levels) in enumerate(compiled.comparisons):
            gamma = row[2 + position]
            level = next((lvl for lvl in levels if lvl.gamma == gamma), None)
            weight = None
            if level is not None:
                weight = math.log2(level.bayes_factor) if level.bayes_factor > 0 else 0.0
                value = values.get((row[0], level.tf_column)) if level.tf_column else None
                tf = frequencies.get(tf_key(level.tf_column, value)) if value else None
                if tf and level.u:
                    weight += level.tf_weight * math.log2(level.u / tf)
                total += weight
            steps.append({"comparison": name, "level": labels[name].get(gamma, str(gamma)),
                          "weight": None if weight is None else round(weight, 3)})
        out.append(PairScore(row[0], row[1], 1 / (1 + 2 ** -total), total, tuple(steps)))
    return out
