"""Names people read for the record fields and the model's comparisons."""

import re

from django.utils.translation import gettext_lazy as _

FIELD_LABELS = {
    "first_name": _("First name"),
    "last_name": _("Last name"),
    "email": _("Email"),
    "phone": _("Phone"),
    "birth_date": _("Birth date"),
    "address_line1": _("Address"),
    "address_line2": _("Address (2)"),
    "postcode": _("Postcode"),
    "city": _("City"),
    "region": _("Region"),
    "country": _("Country"),
    "company": _("Company"),
    "customer_id": _("Customer id"),
    "address": _("Address"),
}


def field_label(name: str) -> str:
    return str(FIELD_LABELS.get(name, name.replace("_", " ")))


_SHORTER = ((re.compile(r"Exact match on (\w+)"), r"exact \1"),
            (re.compile(r"Jaro-Winkler distance of (\w+) >= "), r"Jaro-Winkler \1 ≥ "),
            (re.compile(r"Levenshtein distance of (\w+) <= "), r"Levenshtein \1 ≤ "),
            (re.compile(r"All other comparisons"), "other"),
            (re.compile(r"[()]"), ""), (re.compile(r" AND "), " + "))


def short_level(comparison: str, level: str) -> str:
    """Splink's level label, short enough for a chart axis ("exact", "Jaro-Winkler ≥
    0.92"): the comparison's own column name is left out."""
    for pattern, replacement in _SHORTER:
        level = pattern.sub(replacement, level)
    return re.sub(rf"\b{re.escape(comparison)}\b ?", "", level).strip()
