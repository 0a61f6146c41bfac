"""The words of the segment builder, translated: condition kinds, operators, traits.

The lists themselves come from the rule schema and the database; only the way a marketer
reads each item is here. An item without a label shows its technical name.
"""

from typing import Any

from django.utils.translation import gettext_lazy as _

KIND_LABELS = {
    "all": _("All of these (AND)"),
    "any": _("Any of these (OR)"),
    "not": _("Not"),
    "attribute": _("Profile attribute"),
    "trait": _("Computed trait"),
    "event": _("Event"),
    "consent": _("Consent"),
    "segment": _("Other segment"),
    "model": _("Model score or group"),
}

OP_LABELS = {
    "eq": _("is"),
    "neq": _("is not"),
    "in": _("is one of"),
    "not_in": _("is none of"),
    "contains": _("contains"),
    "starts_with": _("starts with"),
    "gt": _("more than"),
    "gte": _("at least"),
    "lt": _("less than"),
    "lte": _("at most"),
    "between": _("between"),
    "is_set": _("is known"),
    "is_not_set": _("is unknown"),
    "before": _("before"),
    "after": _("after"),
    "within_last": _("within the last (days)"),
    "anniversary_within": _("anniversary within (days)"),
}

AGGREGATE_LABELS = {
    "count": _("number of events"),
    "sum": _("total value"),
    "avg": _("average value"),
}

FIELD_LABELS = {
    "postcode": _("Postcode"),
    "city": _("City"),
    "region": _("Region"),
    "country": _("Country"),
    "company": _("Company"),
}

TRAIT_LABELS = {
    "first_purchase_at": _("First purchase date"),
    "last_purchase_at": _("Last purchase date"),
    "purchase_count": _("Purchases (all time)"),
    "purchase_count_30d": _("Purchases (30 days)"),
    "purchase_count_90d": _("Purchases (90 days)"),
    "purchase_count_365d": _("Purchases (365 days)"),
    "revenue_total": _("Revenue (all time)"),
    "revenue_30d": _("Revenue (30 days)"),
    "revenue_90d": _("Revenue (90 days)"),
    "revenue_365d": _("Revenue (365 days)"),
    "avg_basket": _("Average basket"),
    "last_activity_at": _("Last activity date"),
    "email_opens_30d": _("Email opens (30 days)"),
    "email_clicks_30d": _("Email clicks (30 days)"),
    "rfm_recency": _("RFM recency (1-5)"),
    "rfm_frequency": _("RFM frequency (1-5)"),
    "rfm_monetary": _("RFM monetary (1-5)"),
    "rfm_score": _("RFM score"),
    "days_since_last_activity": _("Days since last activity"),
    "days_since_last_purchase": _("Days since last purchase"),
}

UI_LABELS = {
    "add_condition": _("Add a condition"),
    "add_group": _("Add a group"),
    "remove": _("Remove"),
    "exclude": _("Exclude (NOT)"),
    "empty_all": _("No condition yet: everyone matches."),
    "empty_any": _("No condition yet: no one matches."),
    "custom_attribute": _("Custom attribute…"),
    "custom_key": _("attribute name"),
    "other_event": _("Other event type…"),
    "event_type": _("event type"),
    "any_time": _("at any time"),
    "within_days": _("in the last … days"),
    "between_dates": _("between two dates"),
    "days": _("days"),
    "and": _("and"),
    "values_hint": _("values separated by commas"),
    "where": _("Only events where…"),
    "property": _("property"),
    "score": _("score"),
    "cluster": _("group"),
    "granted": _("has granted consent for"),
    "member_of": _("is a member of"),
    "none_available": _("none available"),
    "json_view": _("JSON"),
    "builder_view": _("Builder"),
    "json_invalid": _("This is not valid JSON; fix it to go back to the builder."),
    "preview": _("Preview"),
    "people": _("people match"),
    "computing": _("Counting…"),
    "sample": _("Sample (masked)"),
    "no_sample": _("No one matches yet."),
    "fix_errors": _("Fix the highlighted conditions to see the size."),
    "preview_failed": _("The preview could not be computed."),
    "profile": _("Profile"),
    "email": _("Email"),
    "city": _("City"),
    "wrap": _("Combine with another condition"),
}


# Accessible names of the pickers (screen readers), by the builder's data-field.
FIELD_NAMES = {
    "aggregate": _("what to count"),
    "aggregate-op": _("comparison"),
    "score-op": _("comparison"),
    "attribute-key": _("attribute name"),
    "event-type": _("event type"),
    "attribute": _("attribute"),
    "cluster": _("group"),
    "event": _("event type"),
    "group": _("how conditions combine"),
    "model": _("model"),
    "op": _("comparison"),
    "property": _("event property"),
    "trait": _("trait"),
    "value": _("value"),
    "window": _("when"),
    "within_days": _("number of days"),
    "consent": _("purpose"),
    "segment": _("segment"),
}


def builder_labels() -> dict[str, Any]:
    """All labels in the active language, as plain strings for the page's JSON."""
    def plain(labels: dict[str, Any]) -> dict[str, str]:
        return {key: str(value) for key, value in labels.items()}

    return {"kinds": plain(KIND_LABELS), "ops": plain(OP_LABELS),
            "aggregates": plain(AGGREGATE_LABELS), "ui": plain(UI_LABELS),
            "fields": plain(FIELD_NAMES)}
