"""The identity model page: its parameters as charts (drawn from the model's JSON, not
Splink's saved HTML, which loads its chart library from the internet) and the match
weights of the decisions the version made."""

import json
import math
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils.translation import gettext as _

from identity.models import IdentityEvent, IdentityModel, MatchReview
from identity.ui.charts import weight_of
from identity.ui.labels import short_level
from identity.ui.pairs import prior_weight

POSITIVE, NEGATIVE = "#16a34a", "#dc2626"
HISTOGRAM_CAP = 20


def parameters(model: dict) -> list[dict[str, Any]]:
    """Per comparison level: m, u and match weight (log2 m/u); null levels left out."""
    rows = []
    for comparison in model.get("comparisons", []):
        for level in comparison.get("comparison_levels", []):
            if level.get("is_null_level"):
                continue
            m, u = level.get("m_probability"), level.get("u_probability")
            weight = math.log2(m / u) if m and u else None
            rows.append({"comparison": comparison.get("output_column_name", ""),
                         "level": level.get("label_for_charts", ""), "m": m, "u": u,
                         "weight": None if weight is None else round(weight, 2)})
    return rows


def _labels(rows: list[dict[str, Any]]) -> list[str]:
    return [f"{r['comparison']}: {short_level(r['comparison'], r['level'])}"[:60]
            for r in rows]


def weights_chart(rows: list[dict[str, Any]]) -> str:
    """Chart.js data: one horizontal bar per level, green for evidence of a match."""
    weights = [r["weight"] or 0 for r in rows]
    return json.dumps({"labels": _labels(rows), "datasets": [{
        "label": _("match weight"), "data": weights,
        "backgroundColor": [POSITIVE if w >= 0 else NEGATIVE for w in weights]}]})


def m_u_chart(rows: list[dict[str, Any]]) -> str:
    """Chart.js data: m (share among matches) and u (among non-matches) per level."""
    return json.dumps({"labels": _labels(rows), "datasets": [
        {"label": _("m: share of true matches"), "data": [r["m"] or 0 for r in rows],
         "backgroundColor": "#2563eb"},
        {"label": _("u: share of non-matches"), "data": [r["u"] or 0 for r in rows],
         "backgroundColor": "#f59e0b"}]})


def horizontal_options(*, legend: bool, x_min: float | None = None,
                       x_max: float | None = None) -> str:
    scale: dict[str, Any] = {"ticks": {"color": "#6b7280"}}
    if x_min is not None:
        scale["min"] = x_min
    if x_max is not None:
        scale["max"] = x_max
    return json.dumps({"indexAxis": "y", "maintainAspectRatio": False,
                       "plugins": {"legend": {"display": legend}},
                       "scales": {"x": scale, "y": {"ticks": {"color": "#374151",
                                                              "autoSkip": False}}}})


def decision_weights(model: IdentityModel) -> dict[str, list[float]]:
    """Match weights of the pairs this version decided on: records it linked (the score
    of the link) and pairs it sent to review. Pairs scored below the review threshold
    are not kept anywhere, so they are not shown."""
    rules = [f"model:v{model.version}", f"incremental:model:v{model.version}"]
    linked = IdentityEvent.objects.filter(Q(rule__in=rules), score__isnull=False) \
        .values_list("score", flat=True)
    reviewed = MatchReview.objects.filter(model_version=model.version) \
        .values_list("probability", flat=True)
    return {"linked": [weight_of(p, HISTOGRAM_CAP) for p in linked],
            "review": [weight_of(p, HISTOGRAM_CAP) for p in reviewed]}


def histogram_chart(weights: dict[str, list[float]], *, review: float, link: float) -> str:
    """Chart.js data: counts per unit of match weight, stacked by outcome, from below
    the review threshold to above the link threshold at least."""
    everything = [w for values in weights.values() for w in values]
    low = math.floor(min([*everything, review - 1]))
    high = math.ceil(max([*everything, link + 2]))
    edges = list(range(low, max(high, low + 1) + 1))

    def counts(values: list[float]) -> list[int]:
        out = [0] * (len(edges) - 1)
        for value in values:
            out[min(int(math.floor(value)) - low, len(out) - 1)] += 1
        return out

    return json.dumps({"labels": [f"{e}…{e + 1}" for e in edges[:-1]], "datasets": [
        {"label": _("linked"), "data": counts(weights.get("linked", [])),
         "backgroundColor": POSITIVE},
        {"label": _("sent to review"), "data": counts(weights.get("review", [])),
         "backgroundColor": "#f59e0b"}]})


def histogram_options() -> str:
    return json.dumps({"maintainAspectRatio": False,
                       "plugins": {"legend": {"display": True}},
                       "scales": {"x": {"stacked": True, "ticks": {"color": "#6b7280"}},
                                  "y": {"stacked": True, "ticks": {"color": "#6b7280"}}}})


def model_page(model: IdentityModel) -> dict[str, Any]:
    """Context of the model page's charts and summary."""
    rows = parameters(model.splink_model or {})
    weights = decision_weights(model)
    prior = (model.splink_model or {}).get("probability_two_random_records_match")
    return {
        "parameters": rows,
        "weights_chart": weights_chart(rows),
        "weights_options": horizontal_options(legend=False),
        "m_u_chart": m_u_chart(rows),
        "m_u_options": horizontal_options(legend=True, x_min=0, x_max=1),
        "chart_height": max(160, 26 * len(rows) + 40),
        "histogram": histogram_chart(
            weights, review=weight_of(settings.CDP_IDENTITY_REVIEW_THRESHOLD),
            link=weight_of(settings.CDP_IDENTITY_LINK_THRESHOLD)),
        "histogram_options": histogram_options(),
        "linked": len(weights["linked"]),
        "reviewed": len(weights["review"]),
        "prior": prior,
        "prior_weight": prior_weight(model.splink_model or {}),
        "link_weight": weight_of(settings.CDP_IDENTITY_LINK_THRESHOLD),
        "review_weight": weight_of(settings.CDP_IDENTITY_REVIEW_THRESHOLD),
        "report": sorted((model.report or {}).items()),
    }
