"""The admin home page: one panel per role the user holds (an admin sees all three).

Marketer: segments with size, trend and last sync per destination. Data steward: review
queue and recent merges. DPO: pending requests, recent exports, consent withdrawals.
Counts and pseudonymous ids only: nothing personal is read here, so nothing is audited."""

import json
from datetime import timedelta
from typing import Any

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from cdp.roles import Role, has_role

TREND_RUNS = 10
WITHDRAWAL_DAYS = 30


def segment_rows(limit: int = 50) -> list[dict[str, Any]]:
    """Enabled segments, largest first, with the sizes of their last successful runs and
    the last run of every audience sync they feed: a fixed number of queries, however
    many segments and syncs there are (it is everyone's home page)."""
    from django.db.models import F, Prefetch, Window
    from django.db.models.functions import RowNumber

    from connectors.models import AudienceSync
    from connectors.ui.syncs import last_runs
    from segments.models import Segment, SegmentRun

    segments = list(Segment.objects.filter(enabled=True).order_by("-size", "name")
                    .prefetch_related(Prefetch("syncs", queryset=AudienceSync.objects
                                               .select_related("destination")
                                               .order_by("destination__name")))[:limit])
    trends: dict[int, list[int]] = {segment.pk: [] for segment in segments}
    recent = (SegmentRun.objects
              .filter(segment__in=segments, status=SegmentRun.Status.SUCCEEDED)
              .annotate(rank=Window(RowNumber(), partition_by=F("segment_id"),
                                    order_by=F("started_at").desc()))
              .filter(rank__lte=TREND_RUNS).order_by("segment_id", "started_at")
              .values_list("segment_id", "size"))
    for segment_id, size in recent:
        trends[segment_id].append(size)
    runs = last_runs(sync.pk for segment in segments for sync in segment.syncs.all())
    rows = []
    for segment in segments:
        sizes = trends[segment.pk]
        syncs = [{"destination": sync.destination.name, "run": runs.get(sync.pk),
                  "url": reverse("admin:connectors_audiencesync_page", args=[sync.pk])}
                 for sync in segment.syncs.all()]
        rows.append({
            "segment": segment,
            "url": reverse("admin:segments_segment_change", args=[segment.pk]),
            "trend": sizes,
            "delta": (sizes[-1] - sizes[-2]) if len(sizes) >= 2 else None,
            "syncs": syncs,
        })
    return rows


def _sparkline(values: list[int]) -> str:
    """Chart.js data for unfold's line chart component."""
    return json.dumps({"labels": [""] * len(values), "datasets": [{
        "data": values, "borderColor": "var(--color-primary-600)", "pointRadius": 0}]})


# A bare line: no legend, tooltip or axes (passed as a variable: the template escapes it).
SPARKLINE_OPTIONS = json.dumps({
    "plugins": {"legend": {"display": False}, "tooltip": {"enabled": False}},
    "scales": {"x": {"display": False}, "y": {"display": False}}})


def steward_panel() -> dict[str, Any]:
    from identity.models import IdentityEvent, MatchReview

    return {
        "pending": MatchReview.objects.filter(status=MatchReview.Status.PENDING).count(),
        "queue_url": reverse("admin:identity_matchreview_changelist") + "?status__exact=pending",
        "merges": list(IdentityEvent.objects.filter(kind=IdentityEvent.Kind.MERGE)
                       .order_by("-at")[:10]),
    }


def withdrawal_trend(days: int = WITHDRAWAL_DAYS) -> list[tuple[str, int]]:
    """Withdrawals recorded per day over the last `days` days, zeros included."""
    from cdp.models import ConsentEntry

    today = timezone.localdate()
    start = today - timedelta(days=days - 1)
    counts = dict(ConsentEntry.objects
                  .filter(status=ConsentEntry.Status.WITHDRAWN,
                          recorded_at__date__gte=start)
                  .annotate(day=TruncDate("recorded_at")).values("day")
                  .annotate(n=Count("id")).values_list("day", "n"))
    return [((start + timedelta(days=i)).strftime("%d/%m"),
             counts.get(start + timedelta(days=i), 0)) for i in range(days)]


def dpo_panel() -> dict[str, Any]:
    from cdp.models import AuditEvent, SubjectRequest

    trend = withdrawal_trend()
    return {
        "pending": list(SubjectRequest.objects.filter(answered_at__isnull=True)[:10]),
        "requests_url": reverse("admin:cdp_subjectrequest_changelist"),
        "exports": list(AuditEvent.objects.filter(action__endswith=".export")
                        .order_by("-at")[:10]),
        "withdrawals": sum(n for _day, n in trend),
        "withdrawal_chart": json.dumps({
            "labels": [day for day, _n in trend],
            "datasets": [{"label": _("Withdrawals"), "data": [n for _day, n in trend],
                          "backgroundColor": "var(--color-primary-600)"}]}),
    }


def dashboard_callback(request: HttpRequest, context: dict[str, Any]) -> dict[str, Any]:
    """Unfold's DASHBOARD_CALLBACK: the panels of the roles this user holds."""
    user = request.user
    if has_role(user, Role.MARKETER):
        rows = segment_rows()
        for row in rows:
            row["sparkline"] = _sparkline(row["trend"]) if len(row["trend"]) >= 2 else None
        context["marketer"] = {"segments": rows, "sparkline_options": SPARKLINE_OPTIONS,
                               "new_url": reverse("admin:segments_segment_add")}
    if has_role(user, Role.STEWARD):
        context["steward"] = steward_panel()
    if has_role(user, Role.DPO):
        context["dpo"] = dpo_panel()
    context["no_role"] = not any(key in context for key in ("marketer", "steward", "dpo"))
    return context
