"""compile_definition: a valid definition to one Q over Profile (one SQL query).

Every leaf is a correlated EXISTS or scalar subquery on the profile's own rows, and every
leaf is two-valued (never NULL), so all/any/not are plain AND/OR/NOT. Nothing here reads
the database: the Q is built from the definition and `now` alone.
"""

from __future__ import annotations

import datetime as dt
from functools import reduce
from operator import and_, or_
from typing import Any

from django.db.models import Exists, F, OuterRef, Q

from segments.consent import consent_granted_q
from segments.models import ProfileScore, SegmentMembership
from segments.rules.conditions import attribute_q, false_q, trait_q, true_q
from segments.rules.events import event_q
from segments.rules.values import compare_q


def compile_definition(definition: dict[str, Any], *, now: dt.datetime) -> Q:
    """Members of the definition at `now`; assumes validate_definition() found nothing."""
    return _compile(definition, now)


def _compile(node: dict[str, Any], now: dt.datetime) -> Q:
    if "all" in node:
        parts = [_compile(child, now) for child in node["all"]]
        return reduce(and_, parts) if parts else true_q()
    if "any" in node:
        parts = [_compile(child, now) for child in node["any"]]
        return reduce(or_, parts) if parts else false_q()
    if "not" in node:
        return ~_compile(node["not"], now)
    if "attribute" in node:
        return attribute_q(node, now=now)
    if "trait" in node:
        return trait_q(node, now=now)
    if "event" in node:
        return event_q(node, now=now)
    if "consent" in node:
        return consent_granted_q(node["consent"], now=now)
    if "segment" in node:
        return segment_member_q(node["segment"])
    if "model" in node:
        return model_q(node)
    raise ValueError(f"not a condition: {sorted(node)}")


def model_q(node: dict[str, Any]) -> Q:
    """The profile's output of the model's active version satisfies the condition.

    A scoring run replaces all rows of its model at once (segments.ml.scoring), so the
    rows are the active version's. Unscored profiles (not eligible, no activity) satisfy
    no model condition; NOT over one includes them.
    """
    rows = ProfileScore.objects.filter(model__slug=node["model"])
    if "score" in node:
        ((op, value),) = node["score"].items()
        rows = rows.filter(compare_q(F("score"), op, value))
    else:
        rows = rows.filter(cluster=node["cluster"])
    return Q(pk__in=rows.values("profile_id"))


def segment_member_q(ref: str | int) -> Q:
    """Currently a member (an open stay) of the segment with this id or slug.

    Digits name an id, anything else a slug (as segments.services.segment_resolve does).
    """
    text = str(ref)
    target = Q(segment_id=int(text)) if text.isdigit() else Q(segment__slug=text)
    stays = SegmentMembership.objects.filter(target, profile=OuterRef("pk"), exited_at__isnull=True)
    return Q(Exists(stays))
