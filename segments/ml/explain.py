"""Plain words about a model, for the people it scores (GDPR Art. 13-15: "meaningful
information about the logic involved") and for the marketers who use it."""

from __future__ import annotations

from typing import Any

from segments.models import ModelVersion, SegmentModel

FEATURE_WORDS = {
    "purchase_count": "your number of purchases",
    "purchase_count_30d": "your purchases in the last 30 days",
    "purchase_count_90d": "your purchases in the last 90 days",
    "purchase_count_365d": "your purchases in the last year",
    "revenue_total": "the total of your purchases",
    "revenue_30d": "the total of your purchases in the last 30 days",
    "revenue_90d": "the total of your purchases in the last 90 days",
    "revenue_365d": "the total of your purchases in the last year",
    "avg_basket": "your average basket",
    "days_since_last_purchase": "the days since your last purchase",
    "days_since_last_activity": "the days since your last activity",
    "days_since_first_purchase": "the days since your first purchase",
    "email_opens_30d": "the newsletters you opened in the last 30 days",
    "email_clicks_30d": "the newsletter links you clicked in the last 30 days",
}


def feature_words(name: str) -> str:
    if name in FEATURE_WORDS:
        return FEATURE_WORDS[name]
    if name.startswith("attributes."):
        return f"the '{name[len('attributes.'):]}' on your customer records"
    return f"your {name.replace('_', ' ')}"


def _features(features: dict[str, Any]) -> str:
    names = [*features.get("traits", []), *features.get("numeric_attributes", []),
             *features.get("attributes", [])]
    words = [feature_words(n) for n in names]
    return ", ".join(words[:-1]) + f" and {words[-1]}" if len(words) > 1 else "".join(words)


def model_logic(model: SegmentModel, version: ModelVersion) -> str:
    """What the model computes, from what, how it was made and what it is used for."""
    features = version.params.get("features") or model.features
    horizon = version.params.get("horizon_days", 30)
    trained = version.finished_at.date().isoformat() if version.finished_at else "?"
    made = (f"It is a statistical model ({version.algorithm or model.algorithm}, version "
            f"{version.number}, trained on {trained}) learnt from the past behaviour of "
            "customers who allowed profiling; it uses only your activity with us, never "
            "your name or contact details.")
    if model.kind == SegmentModel.Kind.CLUSTERING:
        what = (f"This model puts customers with similar habits in the same group, "
                f"judging by {_features(features)}.")
    elif model.kind == SegmentModel.Kind.CHURN:
        what = (f"This score (0 to 1) estimates how likely you are to have no activity with "
                f"us in the next {horizon} days, from {_features(features)}.")
    else:
        what = (f"This score (0 to 1) estimates how likely you are to buy in the next "
                f"{horizon} days, from {_features(features)}.")
    use = ("It is used to choose who receives which marketing messages; no decision with "
           "legal or similarly significant effects is based on it. You can object to it at "
           "any time by withdrawing your consent to profiling: your scores are then deleted.")
    return " ".join((what, made, use))
