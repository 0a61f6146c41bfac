"""Evaluate a segment: one SQL query for the members, a set-based diff into the
membership history, a SegmentRun with counts, guards and a lease.

The lease is the run row itself: at most one running run per segment (a partial unique
constraint), kept alive by heartbeat_at. A run whose heartbeat is older than LEASE is
considered dead: the next attempt (or the reaper) marks it failed and takes over, so a
segment is never left "calculating" forever.
"""

import socket
import time
import uuid
from collections.abc import Collection
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from cdp.db import analytic_memory
from cdp.models import Profile
from segments.models import Segment, SegmentMembership, SegmentRun
from segments.signals import membership_changed

LEASE = timedelta(minutes=10)
GUARD_MIN_SIZE = 50
GUARD_MIN_SHARE = 0.01
GUARD_MAX_CHANGE = 0.5  # warn when Jaccard similarity with the previous run falls below


class SegmentBusy(Exception):
    """Another live run holds the segment's lease."""


def _worker_name() -> str:
    return f"{socket.gethostname()}:{uuid.uuid4().hex[:6]}"


def segment_run_start(*, segment: Segment, trigger: str, now: datetime) -> SegmentRun:
    """Take the segment's lease, failing a dead holder first; raises SegmentBusy."""
    stale = SegmentRun.objects.filter(
        segment=segment, status=SegmentRun.Status.RUNNING, heartbeat_at__lt=now - LEASE
    )
    stale.update(
        status=SegmentRun.Status.FAILED, finished_at=now, error="worker lost (lease expired)"
    )
    try:
        with transaction.atomic():
            return SegmentRun.objects.create(
                segment=segment, trigger=trigger, started_at=now, heartbeat_at=now,
                worker=_worker_name(),
            )
    except IntegrityError as exc:
        raise SegmentBusy(f"segment {segment.slug} is being evaluated") from exc


def segment_runs_reap(*, now: datetime | None = None) -> list[int]:
    """Fail runs whose worker died; returns their segment ids (for a retry)."""
    now = now or timezone.now()
    dead = SegmentRun.objects.filter(
        status=SegmentRun.Status.RUNNING, heartbeat_at__lt=now - LEASE
    )
    segment_ids = list(dead.values_list("segment_id", flat=True))
    dead.update(
        status=SegmentRun.Status.FAILED, finished_at=now, error="worker lost (lease expired)"
    )
    return segment_ids


def _members_query(segment: Segment, now: datetime, profile_ids: Collection | None):
    from segments.rules import compile_definition

    # No ordering: Profile's default one would add a useless sort of the whole set.
    members = Profile.objects.filter(compile_definition(segment.definition, now=now)).order_by()
    members = members.filter(restricted_at__isnull=True)  # GDPR Art. 18: in no segment
    if profile_ids is not None:
        members = members.filter(pk__in=list(profile_ids))
    return members


def _apply_diff(
    segment: Segment, now: datetime, profile_ids: Collection | None
) -> tuple[int, int]:
    """Close stays of profiles that left, open stays for those that entered (set-based)."""
    members = _members_query(segment, now, profile_ids)
    open_stays = SegmentMembership.objects.filter(segment=segment, exited_at__isnull=True)
    if profile_ids is not None:
        open_stays = open_stays.filter(profile_id__in=list(profile_ids))
    removed = open_stays.exclude(profile_id__in=members.values("pk")).update(exited_at=now)
    entering = members.exclude(
        Exists(
            SegmentMembership.objects.filter(
                segment=segment, profile=OuterRef("pk"), exited_at__isnull=True
            )
        )
    ).values_list("pk")
    select_sql, params = entering.query.sql_with_params()
    table = SegmentMembership._meta.db_table
    profiles = Profile._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (segment_id, profile_id, entered_at) "  # noqa: S608
            f"SELECT %s, id, %s FROM {profiles} WHERE id IN ({select_sql})",
            [segment.pk, now, *params],
        )
        added = cursor.rowcount
    return added, removed


def _guards(*, size: int, previous: int, added: int, removed: int) -> tuple[list[str], float]:
    warnings = []
    union = previous + added
    jaccard = 1.0 if union == 0 else (previous - removed) / union
    if size == 0:
        warnings.append("segment is empty")
    else:
        floor = max(GUARD_MIN_SIZE, int(GUARD_MIN_SHARE * Profile.objects.count()))
        if size < floor:
            warnings.append(f"segment is small: {size} members (< {floor})")
    if previous and jaccard < GUARD_MAX_CHANGE:
        warnings.append(f"membership changed a lot since the last run (Jaccard {jaccard:.2f})")
    return warnings, jaccard


def segment_evaluate(
    *, segment_id: int, trigger: str = SegmentRun.Trigger.MANUAL, now: datetime | None = None
) -> SegmentRun | None:
    """Evaluate a whole segment and record a run; None if the segment is gone."""
    now = now or timezone.now()
    segment = Segment.objects.filter(pk=segment_id).first()
    if segment is None:
        return None
    run = segment_run_start(segment=segment, trigger=trigger, now=now)
    started = time.monotonic()
    try:
        with transaction.atomic():
            analytic_memory()
            previous = segment.memberships.filter(exited_at__isnull=True).count()
            added, removed = _apply_diff(segment, now, None)
            size = previous + added - removed
            warnings, jaccard = _guards(
                size=size, previous=previous, added=added, removed=removed
            )
            run.status = SegmentRun.Status.SUCCEEDED
            run.size, run.added, run.removed, run.jaccard = size, added, removed, jaccard
            run.warnings = warnings
            run.finished_at = run.heartbeat_at = timezone.now()
            run.duration_ms = int((time.monotonic() - started) * 1000)
            run.save()
            Segment.objects.filter(pk=segment.pk).update(size=size, last_success_at=now)
            _announce(segment.pk, run.pk, added, removed)
    except Exception as exc:
        run.status = SegmentRun.Status.FAILED
        run.error = f"{type(exc).__name__}: {exc}"[:2000]
        run.finished_at = timezone.now()
        run.duration_ms = int((time.monotonic() - started) * 1000)
        run.save()
        raise
    return run


def segment_evaluate_profiles(
    *, segment: Segment, profile_ids: Collection[uuid.UUID], now: datetime | None = None
) -> tuple[int, int]:
    """Re-evaluate a segment for a few profiles only (after their events arrived).

    No SegmentRun: these are small real-time corrections between full runs.
    """
    now = now or timezone.now()
    with transaction.atomic():
        added, removed = _apply_diff(segment, now, profile_ids)
        if added or removed:
            # Increment, not a recount: this is the per-event hot path.
            Segment.objects.filter(pk=segment.pk).update(size=F("size") + added - removed)
            _announce(segment.pk, None, added, removed)
    return added, removed


def _announce(segment_id: int, run_id: int | None, added: int, removed: int) -> None:
    if added or removed:
        transaction.on_commit(
            lambda: membership_changed.send(
                sender=Segment, segment_id=segment_id, run_id=run_id, added=added,
                removed=removed,
            )
        )
