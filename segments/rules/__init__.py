"""The segment rule language (schema version 1): validate a definition, compile it to SQL.

A definition is a JSON tree of conditions:
- {"all": [...]}, {"any": [...]}, {"not": {...}}: empty all = everyone, empty any = no one;
- {"attribute": "city" | "attributes.<key>", "op": ..., "value": ...}: on source records,
  a profile matches when any of its records does (see conditions.py, values.py);
- {"trait": "purchase_count_90d", "op": ..., "value": ...}: on ProfileTraits, plus
  days_since_last_activity / days_since_last_purchase;
- {"event": "purchase", "count" | "sum" | "avg": {"gte": 3}, "where": [...],
  "within_days": N | "between": [date, date]} (see events.py);
- {"consent": "<purpose>"}: the profile may be used for the purpose now (current entry
  granted and unexpired, profile not restricted: cdp.privacy.consent);
- {"segment": "<id or slug>"}: currently a member of that segment;
- {"model": "<slug>", "score": {"gte": 0.7}} / {"model": "<slug>", "cluster": 2}: the
  output of the model's active version (segments.ml), read from ProfileScore.

Dates in rules are calendar days of settings.TIME_ZONE (Europe/Paris).
"""

from segments.rules.compile import compile_definition
from segments.rules.schema import RULE_SCHEMA_VERSION, rule_schema
from segments.rules.validate import RuleError, validate_definition
from segments.rules.walk import event_types_of, models_referenced, segments_referenced

__all__ = [
    "RULE_SCHEMA_VERSION",
    "RuleError",
    "compile_definition",
    "event_types_of",
    "models_referenced",
    "rule_schema",
    "segments_referenced",
    "validate_definition",
]
