"""What the segment page shows: size over time, recent runs with their guard warnings,
current members (pseudonymous ids only), and the audiences the segment feeds.

Nothing personal is read here (profile ids are random UUIDs), so nothing is audited.
The audiences belong to the connectors app, which depends on segments: they are reached
through the reverse relation and the app registry, never imported.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.apps import apps
from django.db.models import OuterRef, Subquery
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from segments.models import Segment, SegmentRun
from segments.selectors import segment_members

CHART_RUNS = 60
# Passed as a variable, not a template literal: literals are not escaped in attributes.
CHART_OPTIONS = json.dumps({
    "animation": False,
    "plugins": {"legend": {"display": False}},
    "scales": {"y": {"beginAtZero": True, "ticks": {"precision": 0}}},
})
RECENT_RUNS = 10
MEMBERS_SHOWN = 20


def size_chart(segment: Segment, limit: int = CHART_RUNS) -> str | None:
    """Chart.js line data of the sizes of the last successful runs, oldest first; None
    before two runs (one point is no trend)."""
    runs = list(
        SegmentRun.objects.filter(segment=segment, status=SegmentRun.Status.SUCCEEDED)
        .order_by("-started_at").values_list("started_at", "size")[:limit]
    )[::-1]
    if len(runs) < 2:
        return None
    labels = [formats.date_format(timezone.localtime(at), "SHORT_DATETIME_FORMAT")
              for at, _size in runs]
    return json.dumps({"labels": labels, "datasets": [{
        "label": _("Members"), "data": [size for _at, size in runs],
        "borderColor": "var(--color-primary-600)", "pointRadius": 2, "tension": 0.2,
    }]})


_SMALL = re.compile(r"^segment is small: (\d+) members \(< (\d+)\)$")
_CHANGED = re.compile(r"^membership changed a lot since the last run \(Jaccard ([0-9.]+)\)$")


def guard_warning_text(warning: str) -> str:
    """A guard warning of segments.evaluation in the reader's language (others as is)."""
    if warning == "segment is empty":
        return _("The segment is empty.")
    if match := _SMALL.match(warning):
        return _("The segment is small: %(size)s members (fewer than %(floor)s).") % {
            "size": match[1], "floor": match[2]}
    if match := _CHANGED.match(warning):
        return _("Membership changed a lot since the last run (similarity %(score)s).") % {
            "score": match[1]}
    return warning


def _warnings(runs: list[SegmentRun]) -> list[str]:
    """The guard warnings of the latest finished run (what holds now), and its error."""
    for run in runs:
        if run.status != SegmentRun.Status.RUNNING:
            texts = [guard_warning_text(w) for w in run.warnings or []]
            return texts + ([_("The last run failed.")] if run.error else [])
    return []


def segment_audiences(segment: Segment) -> list[dict[str, Any]]:
    """Each sync fed by the segment with its destination and its last run (or None)."""
    if not apps.is_installed("connectors"):
        return []
    sync_run = apps.get_model("connectors", "SyncRun")
    last_run = (sync_run.objects.filter(sync=OuterRef("pk")).order_by("-started_at")
                .values("pk")[:1])
    syncs = list(segment.syncs.select_related("destination")
                 .annotate(last_run_id=Subquery(last_run)).order_by("destination__name"))
    runs = sync_run.objects.in_bulk([s.last_run_id for s in syncs if s.last_run_id])
    return [{"sync": sync, "destination": sync.destination,
             "run": runs.get(sync.last_run_id)} for sync in syncs]


def segment_page(segment: Segment) -> dict[str, Any]:
    """The context of the segment page (overview above the builder)."""
    runs = list(SegmentRun.objects.filter(segment=segment)
                .order_by("-started_at")[:RECENT_RUNS])
    for run in runs:
        run.warning_texts = [guard_warning_text(w) for w in run.warnings or []]
    members = segment_members(segment).order_by("-entered_at", "-id")
    return {
        "segment": segment,
        "chart": size_chart(segment),
        "chart_options": CHART_OPTIONS,
        "runs": runs,
        "running": any(r.status == SegmentRun.Status.RUNNING for r in runs),
        "warnings": _warnings(runs),
        "members": list(members.values("profile_id", "entered_at")[:MEMBERS_SHOWN]),
        "member_count": segment.size,
    }
