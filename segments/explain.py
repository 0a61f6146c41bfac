"""Explain one profile's result: every condition of the rule tree with the value the
profile has and whether it holds, e.g. "purchase count (last 7 days) = 2, needs gte 3".

Each node is evaluated with the same compiler as the segment (one small query per node),
so the explanation cannot disagree with the membership it explains.
"""

import uuid
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Avg, Count, F, Subquery, Sum
from django.db.models.fields.json import KeyTextTransform
from django.shortcuts import get_object_or_404
from django.utils import timezone

from cdp.audit import audit_record
from cdp.models import Profile, SourceRecord
from cdp.privacy.consent import consent_current, entry_allows
from segments.models import ProfileScore, ProfileTraits, Segment, SegmentMembership
from segments.rules import compile_definition
from segments.rules.events import matching_events
from segments.rules.vocabulary import attribute_key


def segment_explain(
    *, segment: Segment, profile_id: uuid.UUID, actor: str, now: datetime | None = None
) -> dict[str, Any]:
    """The explained tree for one profile; raises Http404 for an unknown profile; audited."""
    now = now or timezone.now()
    profile = get_object_or_404(Profile, pk=profile_id)
    tree = _node(segment.definition, "$", profile, now)
    member = SegmentMembership.objects.filter(
        segment=segment, profile=profile, exited_at__isnull=True
    ).exists()
    with transaction.atomic():
        audit_record(
            actor=actor, action="segment.explain", object_type="segment",
            object_id=str(segment.pk), profile_id=profile.pk,
        )
    return {"segment": segment.slug, "profile_id": str(profile.pk), "at": now.isoformat(),
            "matches_now": tree["result"], "member_since_last_run": member, "tree": tree}


def _holds(node: dict[str, Any], profile: Profile, now: datetime) -> bool:
    return Profile.objects.filter(pk=profile.pk).filter(
        compile_definition(node, now=now)
    ).exists()


def _node(node: dict[str, Any], path: str, profile: Profile, now: datetime) -> dict[str, Any]:
    result = _holds(node, profile, now)
    for key in ("all", "any"):
        if key in node:
            children = [_node(child, f"{path}.{key}[{i}]", profile, now)
                        for i, child in enumerate(node[key])]
            return {"path": path, "op": key, "result": result, "children": children}
    if "not" in node:
        child = _node(node["not"], f"{path}.not", profile, now)
        return {"path": path, "op": "not", "result": result, "children": [child]}
    value, text = _value(node, profile, now)
    return {"path": path, "condition": node, "value": value, "result": result,
            "text": f"{text}: {'true' if result else 'false'}"}


def _value(node: dict[str, Any], profile: Profile, now: datetime) -> tuple[Any, str]:
    if "event" in node:
        return _event_value(node, profile, now)
    if "trait" in node:
        value = _trait_value(node["trait"], profile, now)
        return value, f"{node['trait']} = {_show(value)}, needs {_needs(node)}"
    if "attribute" in node:
        values = _attribute_values(node["attribute"], profile)
        return values, f"{node['attribute']} = {_show(values)}, needs {_needs(node)}"
    if "consent" in node:
        return _consent_value(node["consent"], profile, now)
    if "segment" in node:
        return None, f"member of segment {node['segment']}"
    if "model" in node:
        return _model_value(node, profile)
    return None, "condition"


def _model_value(node: dict[str, Any], profile: Profile) -> tuple[Any, str]:
    row = ProfileScore.objects.filter(model__slug=node["model"], profile=profile).first()
    if "score" in node:
        ((op, wanted),) = node["score"].items()
        value = None if row is None else round(row.score, 4)
        return value, f"{node['model']} score = {_show(value)}, needs {op} {wanted}"
    value = None if row is None else row.cluster
    return value, f"{node['model']} cluster = {_show(value)}, needs {node['cluster']}"


def _consent_value(purpose: str, profile: Profile, now: datetime) -> tuple[Any, str]:
    """The current entry as cdp.privacy.consent reads it (ties, expiry, restriction)."""
    entry = consent_current(profile.pk, now=now).get(purpose)
    state = entry.status if entry else None
    if state == "granted" and not entry_allows(entry, now=now):
        state = "expired"
    text = f"consent {purpose} is {state or 'never given'}"
    if profile.restricted_at is not None:
        text += ", profile restricted"
    return state, f"{text}, needs granted"


def _event_value(node: dict[str, Any], profile: Profile, now: datetime) -> tuple[Any, str]:
    kind = next(k for k in ("count", "sum", "avg") if k in node)
    aggregate = {"count": Count("pk"), "sum": Sum("value"), "avg": Avg("value")}[kind]
    rows = matching_events(node, now=now).values("profile").annotate(v=aggregate).values("v")
    value = (Profile.objects.filter(pk=profile.pk).annotate(v=Subquery(rows))
             .values_list("v", flat=True).first())
    if kind == "count":
        value = value or 0
    window = (f"last {node['within_days']} days" if "within_days" in node
              else f"{node['between'][0]} to {node['between'][1]}" if "between" in node
              else "all time")
    ((op, wanted),) = node[kind].items()
    label = f"{node['event']} {kind} ({window}{', filtered' if node.get('where') else ''})"
    return _plain(value), f"{label} = {_show(_plain(value))}, needs {op} {wanted}"


def _trait_value(name: str, profile: Profile, now: datetime) -> Any:
    traits = ProfileTraits.objects.filter(profile=profile).first()
    derived = {"days_since_last_activity": "last_activity_at",
               "days_since_last_purchase": "last_purchase_at"}
    if name in derived:
        moment = getattr(traits, derived[name], None) if traits else None
        return (now - moment).days if moment else None
    return _plain(getattr(traits, name)) if traits else None


def _attribute_values(name: str, profile: Profile) -> list[Any]:
    key = attribute_key(name)
    column = F(name) if key is None else KeyTextTransform(key, "attributes")
    rows = SourceRecord.objects.filter(profile=profile).annotate(v=column)
    return sorted({v for v in rows.values_list("v", flat=True) if v not in (None, "")})


def _needs(node: dict[str, Any]) -> str:
    return f"{node['op']} {node['value']}" if "value" in node else node["op"]


def _plain(value: Any) -> Any:
    return float(value) if hasattr(value, "as_tuple") else value


def _show(value: Any) -> str:
    if value in (None, []):
        return "none"
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)
