"""The segment builder's services: the picker vocabulary and a draft's live preview.

The shapes (condition kinds, operators, value forms) come from the rule schema, which the
builder reads itself; this module adds what only the database knows (traits, record
fields, event types seen, purposes, other segments, models) and the words a marketer reads.
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.utils.translation import gettext as _

from segments.models import ModelVersion, Segment, SegmentModel
from segments.rules import RuleError, validate_definition
from segments.rules.vocabulary import ATTRIBUTE_PREFIX, PRESENCE_OPS, TEXT_ATTRIBUTES, TEXT_OPS
from segments.rules.vocabulary import traits as known_traits
from segments.ui.labels import FIELD_LABELS, TRAIT_LABELS, builder_labels

# Event types offered by the picker: a bounded skip-scan of the (type, occurred_at) index.
MAX_EVENT_TYPES = 200
# Seen before any event arrives: the types traits are computed from.
BASE_EVENT_TYPES = ("purchase", "email_open", "email_click")


def event_types_seen(limit: int = MAX_EVENT_TYPES) -> list[str]:
    """Distinct event types stored, walking the index type by type (no full scan)."""
    from cdp.models import Event

    table = connection.ops.quote_name(Event._meta.db_table)
    sql = (
        f"WITH RECURSIVE t(type) AS ("  # noqa: S608 (table name from the model, no input)
        f" SELECT MIN(type) FROM {table}"
        f" UNION ALL SELECT (SELECT MIN(type) FROM {table} WHERE type > t.type)"
        f" FROM t WHERE t.type IS NOT NULL)"
        f" SELECT type FROM t WHERE type IS NOT NULL LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [limit])
        return [row[0] for row in cursor.fetchall()]


def _event_types() -> list[str]:
    used = {t for types in Segment.objects.values_list("event_types", flat=True) for t in types}
    return sorted(set(BASE_EVENT_TYPES) | set(event_types_seen()) | used)


def _models() -> list[dict[str, Any]]:
    active = {
        v.model_id: v for v in ModelVersion.objects.filter(is_active=True)
        .only("model_id", "metrics", "cluster_names")
    }
    found = []
    for model in SegmentModel.objects.filter(enabled=True).order_by("name"):
        version = active.get(model.pk)
        count = (version.metrics or {}).get("clusters") if version else None
        names = (version.cluster_names or {}) if version else {}
        clusters = [{"value": i, "label": names.get(str(i)) or _("Group %(n)s") % {"n": i}}
                    for i in range(count or 0)]
        found.append({"value": model.slug, "label": model.name,
                      "predictive": model.predictive, "clusters": clusters})
    return found


def _trait_label(name: str) -> str:
    return str(TRAIT_LABELS.get(name) or name.replace("_", " ").capitalize())


def builder_vocabulary(*, segment: Segment | None = None) -> dict[str, Any]:
    """Everything the pickers list besides the schema; `segment` is the one being edited
    (a segment cannot include itself). Names and counts only: no personal data."""
    from cdp.models import Purpose

    purposes = Purpose.objects.order_by("slug").values_list("slug", "name")
    others = Segment.objects.order_by("name").values_list("slug", "name")
    if segment is not None and segment.pk:
        others = others.exclude(pk=segment.pk)
    return {
        "attributes": [{"value": name, "label": str(FIELD_LABELS.get(name, name))}
                       for name in TEXT_ATTRIBUTES],
        "attribute_prefix": ATTRIBUTE_PREFIX,
        "text_ops": list(TEXT_OPS + PRESENCE_OPS),
        "traits": [{"value": name, "label": _trait_label(name), "kind": trait.kind}
                   for name, trait in known_traits().items()],
        "event_types": _event_types(),
        "purposes": [{"value": slug, "label": name} for slug, name in purposes],
        "segments": [{"value": slug, "label": name} for slug, name in others],
        "models": _models(),
        "labels": builder_labels(),
    }


def definition_errors(definition: Any, *, self_slug: str | None = None) -> list[RuleError]:
    """Every problem of a draft, with references to segments and models checked."""
    from segments.ml.registry import segment_model_resolve
    from segments.services import segment_resolve

    return validate_definition(definition, resolve_segment=segment_resolve,
                               self_slug=self_slug or None, resolve_model=segment_model_resolve)


def builder_preview(*, definition: Any, actor: str,
                    self_slug: str | None = None) -> dict[str, Any]:
    """Size and masked sample of a valid draft (audited by segment_preview), or its
    problems by JSON path so the builder can show each next to its condition."""
    from segments.preview import segment_preview

    errors = definition_errors(definition, self_slug=self_slug)
    if errors:
        return {"errors": [{"path": e.path, "message": e.message} for e in errors]}
    return {"errors": [], **segment_preview(definition=definition, actor=actor)}
