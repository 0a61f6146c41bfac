"""The probabilistic pass: Splink 5 on DuckDB, trained and applied to the records table.

The model's definition (comparisons, blocking rules) lives here in Python; the trained
parameters are saved as Splink JSON in an IdentityModel row. Comparisons follow the
issue: names with Jaro-Winkler levels and term-frequency adjustment; birth date exact,
one character off, same year and month; email exact or one edit on the local part
(Splink's stock email comparison produced most false positives at 1M here); phone
exact; address, postcode, city. u by random sampling, m by EM over two blocking rules
(phone, birth date), the prior from deterministic rules.
"""

import time
from typing import Any

import duckdb
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from django.conf import settings
from splink import DuckDBAPI, Linker, SettingsCreator, block_on


def _birth_date() -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name="birth_date",
        comparison_levels=[
            cll.NullLevel("birth_date"),
            cll.ExactMatchLevel("birth_date"),
            cll.LevenshteinLevel("birth_date", 1),
            cll.CustomLevel("substr(birth_date_l, 1, 7) = substr(birth_date_r, 1, 7)",
                            label_for_charts="same year and month"),
            cll.ElseLevel(),
        ],
    )


def _email() -> cl.CustomComparison:
    """Exact; the same address but for a "+tag"; the same local part with a typo in the
    domain (gmial.com, orange.fe); one edit in the local part at the same domain. (The
    same local part at another provider was tried: name-like local parts such as
    camille.thomas are shared by different people, it over-merged.)"""
    return cl.CustomComparison(
        output_column_name="email",
        comparison_levels=[
            cll.NullLevel("email"),
            cll.ExactMatchLevel("email"),
            cll.ExactMatchLevel("email_canonical"),
            cll.And(cll.ExactMatchLevel("email_local"), cll.LevenshteinLevel("email_domain", 2)),
            cll.And(cll.LevenshteinLevel("email_local", 1), cll.ExactMatchLevel("email_domain")),
            cll.ElseLevel(),
        ],
    )


def _address() -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name="address",
        comparison_levels=[
            cll.And(cll.NullLevel("address"), cll.NullLevel("postcode")),
            cll.And(cll.ExactMatchLevel("address"), cll.ExactMatchLevel("postcode")),
            cll.And(cll.JaroWinklerLevel("address", 0.9), cll.ExactMatchLevel("postcode")),
            cll.ExactMatchLevel("postcode"),
            cll.ExactMatchLevel("city"),
            cll.ElseLevel(),
        ],
    )


def model_settings() -> SettingsCreator:
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[
            cl.NameComparison("first_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("last_name").configure(term_frequency_adjustments=True),
            _birth_date(),
            _email(),
            cl.ExactMatch("phone"),
            _address(),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("email_canonical"),
            block_on("email_local"),
            block_on("phone"),
            block_on("last_name", "birth_date"),
            block_on("first_name", "last_name", "postcode"),
            block_on("birth_date", "postcode"),
            block_on("address", "postcode"),
            block_on("first_name", "postcode"),
            block_on("first_name", "birth_date"),
        ],
        retain_intermediate_calculation_columns=True,
    )


def linker_for(con: duckdb.DuckDBPyConnection, model: Any, table: str = "records") -> Linker:
    db_api = DuckDBAPI(connection=con)
    return Linker(db_api.register(table), model)


def train(con: duckdb.DuckDBPyConnection, table: str = "records") -> tuple[dict, dict]:
    """Train on the records table; returns (Splink model dict, report with timings)."""
    linker = linker_for(con, model_settings(), table)
    report: dict[str, Any] = {}
    started = time.perf_counter()
    linker.training.estimate_probability_two_random_records_match(
        ["l.email = r.email", "l.phone = r.phone AND l.first_name = r.first_name"],
        recall=0.8,
    )
    report["prior_s"] = round(time.perf_counter() - started, 2)
    started = time.perf_counter()
    linker.training.estimate_u_using_random_sampling(
        max_pairs=settings.CDP_IDENTITY_U_MAX_PAIRS, seed=1)
    report["u_s"] = round(time.perf_counter() - started, 2)
    started = time.perf_counter()
    for rule in (block_on("phone"), block_on("birth_date"), block_on("email_local")):
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    report["em_s"] = round(time.perf_counter() - started, 2)
    model = linker.misc.save_model_to_json()
    return model, report


def training_charts(con: duckdb.DuckDBPyConnection, model: dict,
                    table: str = "records") -> dict[str, str]:
    """Match weights and m/u parameters as self-contained HTML for the admin."""
    linker = linker_for(con, model, table)
    charts = {}
    for name, build in (("match_weights", linker.visualisations.match_weights_chart),
                        ("m_u_parameters", linker.visualisations.m_u_parameters_chart)):
        try:
            charts[name] = build().to_html()
        except Exception as exc:  # noqa: BLE001 - a chart must never fail training
            charts[name] = f"<p>chart unavailable: {type(exc).__name__}</p>"
    return charts


def _level_labels(comparison: dict) -> dict[int, str]:
    """gamma value -> level label: the null level is -1, the others count down to 0."""
    levels = comparison["comparison_levels"]
    real = [lvl for lvl in levels if not lvl.get("is_null_level")]
    labels = {-1: "null"}
    for position, level in enumerate(real):
        labels[len(real) - 1 - position] = level.get("label_for_charts", "")
    return labels


def predict(
    con: duckdb.DuckDBPyConnection, model: dict, *, threshold: float, explain_below: float,
    table: str = "records",
) -> tuple[list[tuple[int, int, float]], dict[tuple[int, int], list[dict]]]:
    """Pairs (a < b, probability) at or above threshold, and for those under
    explain_below (the review band) each comparison's level and match weight, as
    Splink's waterfall shows them, without the compared values."""
    linker = linker_for(con, model, table)
    for column in ("first_name", "last_name"):
        linker.table_management.compute_tf_table(column)
    predictions = linker.inference.predict(threshold_match_probability=threshold)
    names = [c["output_column_name"] for c in model["comparisons"]]
    available = {c[0] for c in con.execute(
        f"SELECT * FROM {predictions.physical_name} LIMIT 0").description}  # noqa: S608
    # Splink 5 names a comparison's match weight mw_<name> (log2 of its Bayes factor),
    # and the term-frequency part, where used, mw_tf_<name>.
    columns = ", ".join(
        f"gamma_{n}, mw_{n}" + (f" + coalesce(mw_tf_{n}, 0)" if f"mw_tf_{n}" in available else "")
        for n in names)
    rows = con.execute(
        f"SELECT least(unique_id_l, unique_id_r), greatest(unique_id_l, unique_id_r), "  # noqa: S608
        f"match_probability, CASE WHEN match_probability < ? THEN [{columns}] END "
        f"FROM {predictions.physical_name}", [explain_below]
    ).fetchall()
    predictions.drop_table_from_database_and_remove_from_cache()
    labels = {c["output_column_name"]: _level_labels(c) for c in model["comparisons"]}
    pairs, explanations = [], {}
    for a, b, probability, detail in rows:
        pairs.append((a, b, probability))
        if detail is not None:
            explanations[(a, b)] = [
                {"comparison": name,
                 "level": labels[name].get(int(detail[2 * i]), str(detail[2 * i])),
                 "weight": round(detail[2 * i + 1], 3)
                 if detail[2 * i + 1] is not None else None}
                for i, name in enumerate(names)
            ]
    return pairs, explanations
