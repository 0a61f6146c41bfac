"""Reads behind the sync pages: last runs and their counts, members the vendor refused.

Marketers see refused members by pseudonymous ids only (profile id, the vendor's id) and
the vendor's reason with any address in it masked. DPO and admins may reveal the emails
the members were sent under; each revealed email is audited, like any clear read.
"""

import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Max, Q, QuerySet
from django.utils.timezone import localtime
from django.utils.translation import gettext_lazy as _

from cdp.audit import audit_record
from cdp.privacy.crypto import DecryptionError, decrypt
from cdp.privacy.datakeys import data_keys_load
from cdp.privacy.masking import mask_email
from connectors.engine import EMAIL_FIELD
from connectors.models import AudienceSync, SyncMember, SyncRun

RUNS_SHOWN = 15
FAILED_SHOWN = 50
_EMAILISH = re.compile(r"[^\s<>\"'(),;:]+@[^\s<>\"'(),;:]+")
# (count field, label, colour) of the chart and the runs table, in reading order.
COUNTS: tuple[tuple[str, Any, str], ...] = (
    ("added", _("added"), "#16a34a"),
    ("updated", _("updated"), "#2563eb"),
    ("removed", _("removed"), "#f59e0b"),
    ("unchanged", _("unchanged"), "#9ca3af"),
    ("failed", _("failed"), "#dc2626"),
    ("skipped_consent", _("skipped (consent)"), "#a855f7"),
)


@dataclass
class FailedMember:
    """One member the vendor refused or that is still waiting to be confirmed."""

    profile_id: uuid.UUID
    remote_id: str
    status: str
    status_label: str
    error: str
    attempts: int
    updated_at: Any
    email: str | None = None  # filled only when revealed to a DPO or admin


def last_runs(sync_ids: Iterable[int]) -> dict[int, SyncRun]:
    """The latest run of each sync, in two queries whatever the number of syncs."""
    ids = list(sync_ids)
    latest = (SyncRun.objects.filter(sync_id__in=ids).values("sync_id")
              .annotate(last=Max("started_at")).values_list("sync_id", "last"))
    wanted = Q(pk__in=[])
    for sync_id, started in latest:
        wanted |= Q(sync_id=sync_id, started_at=started)
    return {run.sync_id: run for run in SyncRun.objects.filter(wanted)}


def sync_runs(sync: AudienceSync, limit: int = RUNS_SHOWN) -> list[SyncRun]:
    """The last runs, newest first."""
    return list(SyncRun.objects.filter(sync=sync).order_by("-started_at")[:limit])


# Stacked bars, legend on: unfold's defaults hide the legend a reader needs here.
CHART_OPTIONS = json.dumps({
    "responsive": True, "maintainAspectRatio": False, "animation": False,
    "plugins": {"legend": {"display": True, "position": "top", "align": "end"}},
    "scales": {"x": {"stacked": True, "grid": {"display": False}},
               "y": {"stacked": True, "beginAtZero": True}},
})


def runs_chart(runs: list[SyncRun]) -> str:
    """Chart.js data (oldest run first) of each run's counts, for unfold's bar chart."""
    ordered = runs[::-1]
    return json.dumps({
        "labels": [localtime(run.started_at).strftime("%d/%m %H:%M") for run in ordered],
        "datasets": [{"label": str(label), "backgroundColor": colour, "maxBarThickness": 48,
                      "data": [getattr(run, field) for run in ordered]}
                     for field, label, colour in COUNTS],
    })


def member_counts(sync: AudienceSync) -> dict[str, int]:
    """Members per status, and how many are in the container now (two grouped counts:
    a sync may hold millions of members)."""
    members = SyncMember.objects.filter(sync=sync)
    counts = dict.fromkeys(SyncMember.Status.values, 0)
    counts.update(members.values("status").annotate(n=Count("pk")).values_list("status", "n"))
    counts["in_container"] = members.filter(in_container=True).count()
    return counts


def _failed(sync: AudienceSync) -> QuerySet[SyncMember]:
    """Refused members, and pending ones that carry an error (a failed attempt)."""
    return (SyncMember.objects.filter(sync=sync)
            .filter(Q(status=SyncMember.Status.REJECTED)
                    | Q(status=SyncMember.Status.PENDING) & ~Q(error=""))
            .order_by("-updated_at", "profile_id"))


def _masked_error(text: str) -> str:
    """The vendor's reason with any address in it masked (the engine already replaces
    the member's own; a vendor may quote another form of it)."""
    return _EMAILISH.sub(lambda m: mask_email(m.group(0), keep_domain=False) or "***", text)


def failed_members(sync: AudienceSync, *, limit: int = FAILED_SHOWN,
                   reveal_for: str | None = None) -> tuple[list[FailedMember], int]:
    """(the latest refused members, how many there are). With reveal_for (an actor who
    may read personal data in clear) the email each was sent under is decrypted and
    every such read audited."""
    rows = list(_failed(sync)[:limit])
    members = [FailedMember(row.profile_id, row.remote_id, row.status,
                            SyncMember.Status(row.status).label, _masked_error(row.error),
                            row.attempts, row.updated_at) for row in rows]
    if reveal_for:
        keys = data_keys_load(row.data_key_id for row in rows)
        for row, member in zip(rows, members, strict=True):
            member.email = _email(row, keys)
            audit_record(actor=reveal_for, action="sync_member.view",
                         object_type="audience_sync", object_id=str(sync.pk),
                         profile_id=row.profile_id,
                         details={"field": "email", "found": member.email is not None})
    return members, _failed(sync).count()


def _email(row: SyncMember, keys: dict) -> str | None:
    key = keys.get(row.data_key_id)
    if row.email_enc is None or key is None:
        return None
    try:
        return decrypt(bytes(row.email_enc), field=EMAIL_FIELD, key=key)
    except DecryptionError:
        return None
