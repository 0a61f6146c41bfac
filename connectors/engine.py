"""The sync engine, shared by every connector: send each destination only the difference.

connectors.planning decides adds, updates, removes and unchanged (the diff between the
desired audience and what was last confirmed). Batches sized to the API go out from a
pool bounded by the destination's concurrency, paced and retried by connectors.http,
while later members are still being planned; each confirmed batch is written at once,
so a run killed midway and run again converges without duplicates. Members still
failing stay pending (retried by the next run and the nightly reconciliation);
per-member refusals (invalid email) are kept with the vendor's reason and not resent
until the member's data changes.
"""

import datetime as dt
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from itertools import chain, islice

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from cdp.audit import audit_record
from cdp.db import copy_rows
from cdp.privacy.crypto import decrypt
from cdp.privacy.datakeys import data_keys_load
from connectors.base import Connector, ItemResult, SentMember
from connectors.http import (
    CallStats,
    VendorAuthError,
    VendorBudgetExhausted,
    VendorUnavailable,
)
from connectors.models import AudienceSync, SyncMember, SyncRun
from connectors.planning import EMAIL_FIELD, Plan, Planner, Push
from connectors.registry import connector_for, credentials_keep, limits_for

__all__ = ["EMAIL_FIELD", "data_keys_load", "decrypt", "runs_reap", "sync_run",
           "syncs_holding", "syncs_of_segment"]
Status = SyncMember.Status
HEARTBEAT_S = 5  # how often a run renews its lease while batches come back


def _batches(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


# One statement per batch: the vendor's outcome per member decides each column; on a
# failure what was confirmed before (vendor id, sealed email, hash, container) is kept.
# The batch is COPYed into a session's temporary table first (10x cheaper to format).
_STAGE = "_cdp_sync_push"
_STAGE_COLUMNS = (("sync_id", "integer"), ("profile_id", "uuid"), ("remote_id", "text"),
                  ("email_enc", "bytea"), ("data_key_id", "uuid"), ("field_hash", "text"),
                  ("in_container", "boolean"), ("status", "text"), ("error", "text"),
                  ("attempts", "integer"), ("updated_at", "timestamptz"))
_COLUMNS = ", ".join(name for name, _ in _STAGE_COLUMNS)
_CREATE_STAGE = (f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} ("
                 + ", ".join(f"{name} {kind}" for name, kind in _STAGE_COLUMNS)
                 + ") ON COMMIT DELETE ROWS")
_UPSERT = f"""
INSERT INTO connectors_syncmember AS m ({_COLUMNS}) SELECT {_COLUMNS} FROM {_STAGE}
ON CONFLICT (sync_id, profile_id) DO UPDATE SET
    remote_id = CASE WHEN EXCLUDED.status = 'synced' OR m.remote_id = ''
                     THEN EXCLUDED.remote_id ELSE m.remote_id END,
    email_enc = CASE WHEN EXCLUDED.status = 'synced' OR m.remote_id = ''
                     THEN EXCLUDED.email_enc ELSE m.email_enc END,
    data_key_id = CASE WHEN EXCLUDED.status = 'synced' OR m.remote_id = ''
                       THEN EXCLUDED.data_key_id ELSE m.data_key_id END,
    field_hash = CASE WHEN EXCLUDED.status = 'pending' THEN m.field_hash
                      ELSE EXCLUDED.field_hash END,
    in_container = EXCLUDED.in_container OR (EXCLUDED.status <> 'synced' AND m.in_container),
    status = EXCLUDED.status, error = EXCLUDED.error,
    attempts = CASE WHEN EXCLUDED.status = 'synced' THEN 0 ELSE m.attempts + 1 END,
    updated_at = EXCLUDED.updated_at
"""  # noqa: S608 - constant identifiers


def _save_pushes(sync: AudienceSync, batch: list[Push], results: list[ItemResult],
                 now: dt.datetime) -> tuple[int, int, int]:
    """Write what the vendor confirmed or refused; returns (added, updated, failed)."""
    outcome = {r.profile_id: r for r in results}
    rows, added, updated, failed = [], 0, 0, 0
    for push in batch:
        member = push.member
        result = outcome.get(member.profile_id) or ItemResult(member.profile_id, False,
                                                              error="no answer", retryable=True)
        if result.ok:
            added += member.join
            updated += not member.join
            status, field_hash, error = Status.SYNCED, member.field_hash, ""
        else:
            failed += 1
            status = Status.PENDING if result.retryable else Status.REJECTED
            # A refusal keeps the refused hash: not resent until the data changes.
            field_hash = "" if result.retryable else member.field_hash
            error = result.error[:300]
        rows.append((sync.pk, member.profile_id, result.remote_id or push.remote_id,
                     push.email_enc, push.data_key_id, field_hash, result.ok, status, error,
                     0 if result.ok else 1, now))
    if connection.vendor == "postgresql":
        nested = connection.in_atomic_block  # no commit after this batch to empty the stage
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_CREATE_STAGE)
            if nested:
                cursor.execute(f"TRUNCATE {_STAGE}")
            copy_rows(cursor, _STAGE, [name for name, _ in _STAGE_COLUMNS], rows)
            cursor.execute(_UPSERT)
    else:
        _save_rows_orm(sync, rows)
    return added, updated, failed


def _save_rows_orm(sync: AudienceSync, rows: list[tuple]) -> None:
    """The same semantics through the ORM (the SQLite demo)."""
    current = {m.profile_id: m for m in SyncMember.objects.filter(
        sync=sync, profile_id__in=[r[1] for r in rows])}
    out = []
    for _, pid, remote_id, email_enc, key_id, field_hash, ok, status, error, _, now in rows:
        row = current.get(pid) or SyncMember(sync=sync, profile_id=pid, attempts=0)
        if ok or not row.remote_id:
            row.remote_id, row.email_enc, row.data_key_id = remote_id, email_enc, key_id
        if status != Status.PENDING:
            row.field_hash = field_hash
        row.in_container = ok or (status != Status.SYNCED and row.in_container)
        row.status, row.error, row.updated_at = status, error, now
        row.attempts = 0 if ok else row.attempts + 1
        out.append(row)
    SyncMember.objects.bulk_create(
        out, update_conflicts=True, unique_fields=["sync", "profile_id"],
        update_fields=["remote_id", "email_enc", "data_key_id", "field_hash", "in_container",
                       "status", "error", "attempts", "updated_at"])


def _save_removes(sync: AudienceSync, batch: list[SentMember], results: list[ItemResult],
                  now: dt.datetime) -> tuple[int, int]:
    """Taken out: no longer in the container (the row stays: erasure needs the vendor id)."""
    removed, failed = 0, 0
    outcome = {r.profile_id: r for r in results}
    with transaction.atomic():
        for member in batch:
            result = outcome.get(member.profile_id)
            rows = SyncMember.objects.filter(sync=sync, profile_id=member.profile_id,
                                             remote_id=member.remote_id)
            if result is not None and result.ok:
                removed += rows.update(in_container=False, status=Status.SYNCED, error="",
                                       attempts=0, updated_at=now) and 1
            else:
                failed += 1
                error = result.error if result else "no answer"
                rows.update(status=Status.PENDING, error=error[:300], updated_at=now)
    return removed, failed


def _pending(batch: list, error: str) -> list[ItemResult]:
    ids = [p.member.profile_id if isinstance(p, Push) else p.profile_id for p in batch]
    return [ItemResult(pid, False, error=error[:300], retryable=True) for pid in ids]


@dataclass
class Counters:
    added: int = 0
    updated: int = 0
    removed: int = 0
    failed: int = 0


def _jobs(connector: Connector, planner: Planner, size: int) -> tuple[list, Iterator]:
    """(removal batches, upsert jobs). Removals all go first, so a member whose email
    changed leaves before the new one joins; the upserts of members not yet in the
    container are planned lazily, as the pool asks for more work."""
    held = planner.held()
    removes = [("remove", b) for b in _batches(planner.removes, size)]
    threshold = connector.bulk_threshold
    if threshold is not None and len(held) + planner.fresh_count >= threshold:
        everyone = held + list(planner.fresh())  # the bulk decision needs the exact count
        if len(everyone) >= threshold:
            return removes, iter([("bulk", everyone)])
        return removes, (("push", b) for b in _batches(everyone, size))
    return removes, (("push", b) for b in _batches(chain(held, planner.fresh()), size))


def _execute(sync: AudienceSync, connector: Connector, planner: Planner, run: SyncRun,
             counters: Counters, on_batch: Callable[[], None] | None = None) -> None:
    """Send the plan's jobs; each batch's outcome is written as soon as it comes back."""
    size = limits_for(sync.destination).batch_size
    concurrency = limits_for(sync.destination).concurrency
    removes, pushes = _jobs(connector, planner, size)

    def send(kind: str, batch: list) -> list[ItemResult]:
        try:
            if kind == "remove":
                return connector.remove(batch)
            if kind == "bulk":
                return connector.push_bulk([p.member for p in batch])
            return connector.push([p.member for p in batch])
        except VendorUnavailable as exc:
            return _pending(batch, str(exc))

    beat = [run.heartbeat_at]

    def record(kind: str, batch: list, results: list[ItemResult]) -> None:
        now = timezone.now()
        if kind == "remove":
            removed, failed = _save_removes(sync, batch, results, now)
            counters.removed += removed
            counters.failed += failed
        else:
            # A bulk job's outcome is written in slices too.
            by_id = {r.profile_id: r for r in results}
            for part in _batches(batch, max(size, 1000)):
                answers = [by_id[p.member.profile_id] for p in part
                           if p.member.profile_id in by_id]
                added, updated, failed = _save_pushes(sync, part, answers, now)
                counters.added += added
                counters.updated += updated
                counters.failed += failed
        if (now - beat[0]).total_seconds() >= HEARTBEAT_S:  # the lease is minutes long
            SyncRun.objects.filter(pk=run.pk).update(heartbeat_at=now)
            beat[0] = now

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="sync") as pool:
        for phase in (iter(removes), pushes):
            running: dict[Future, tuple[str, list]] = {}
            while True:
                while len(running) < concurrency * 2 and (job := next(phase, None)):
                    kind, batch = job
                    running[pool.submit(send, kind, batch)] = (kind, batch)
                if not running:
                    break
                done, _ = wait(running, timeout=60, return_when=FIRST_COMPLETED)
                if not done:  # a long call (a bulk job): keep the lease alive
                    SyncRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now())
                    continue
                stop = None
                for future in done:
                    kind, batch = running.pop(future)
                    try:
                        record(kind, batch, future.result())
                    except (VendorAuthError, VendorBudgetExhausted) as exc:
                        stop = stop or exc
                        continue
                    if on_batch:
                        on_batch()
                if stop is not None:
                    # Stop sending, but write down what the vendor already confirmed.
                    for future in running:
                        future.cancel()
                    for future, (kind, batch) in running.items():
                        if not future.cancelled():
                            try:
                                record(kind, batch, future.result())
                            except (VendorAuthError, VendorBudgetExhausted):
                                pass
                    raise stop


def _run_start(sync: AudienceSync, trigger: str) -> SyncRun | None:
    """The run's lease: one running run per sync (a unique constraint); None if taken."""
    now = timezone.now()
    try:
        with transaction.atomic():
            return SyncRun.objects.create(sync=sync, trigger=trigger, started_at=now,
                                          heartbeat_at=now)
    except IntegrityError:
        return None


def runs_reap(now: dt.datetime | None = None) -> int:
    """Fail runs whose worker died (no heartbeat within the lease); their members are
    pending or confirmed batch by batch, so the next run carries on."""
    now = now or timezone.now()
    stale = now - dt.timedelta(seconds=settings.CDP_SYNC_LEASE_S)
    return SyncRun.objects.filter(status=SyncRun.Status.RUNNING, heartbeat_at__lt=stale).update(
        status=SyncRun.Status.FAILED, finished_at=now, error="worker lost (lease expired)")


def _run_finish(run: SyncRun, sync: AudienceSync, *, status: str, counters: Counters,
                stats: CallStats, started: float, error: str = "", **extra: int) -> SyncRun:
    sent = counters.added + counters.updated + counters.removed + counters.failed
    run.status = status
    run.finished_at = timezone.now()
    run.added, run.updated, run.removed = counters.added, counters.updated, counters.removed
    run.failed = counters.failed + extra.pop("rejected", 0)
    for name, value in extra.items():
        setattr(run, name, value)
    run.api_calls, run.write_calls, run.retries = (stats.api_calls, stats.write_calls,
                                                   stats.retries)
    run.duration_ms = int((time.perf_counter() - started) * 1000)
    run.failure_rate = counters.failed / sent if sent else 0.0
    run.flagged = status == SyncRun.Status.FAILED or (
        run.failure_rate > sync.destination.failure_threshold)
    run.error = error[:2000]
    with transaction.atomic():
        run.save()
        AudienceSync.objects.filter(pk=sync.pk).update(last_run_at=run.finished_at)
        audit_record(
            actor=f"celery:sync:{sync.pk}", action="sync.run", object_type="audience_sync",
            object_id=str(sync.pk),
            details={"run": run.pk, "status": run.status, "trigger": run.trigger,
                     "destination": sync.destination.name, "added": run.added,
                     "updated": run.updated, "removed": run.removed, "failed": run.failed,
                     "skipped_consent": run.skipped_consent, "flagged": run.flagged},
        )
    return run


def sync_run(*, sync_id: int, trigger: str = SyncRun.Trigger.MANUAL,
             on_batch: Callable[[], None] | None = None) -> SyncRun | None:
    """One run of a sync; None when it is disabled or another run holds the lease."""
    sync = (AudienceSync.objects.select_related("destination", "segment")
            .filter(pk=sync_id, enabled=True, destination__enabled=True).first())
    if sync is None:
        return None
    runs_reap()
    run = _run_start(sync, trigger)
    if run is None:
        return None
    started, stats, counters = time.perf_counter(), CallStats(), Counters()
    plan = Plan()
    status, error = SyncRun.Status.SUCCEEDED, ""
    connector = connector_for(sync, stats=stats)
    # Long vendor operations (a bulk job being polled) keep the run's lease alive.
    connector.progress = lambda: SyncRun.objects.filter(pk=run.pk).update(
        heartbeat_at=timezone.now())
    try:
        connector.prepare()
        planner = Planner.start(sync, connector, timezone.now())
        plan = planner.plan
        _execute(sync, connector, planner, run, counters, on_batch)
        if counters.failed:
            status = SyncRun.Status.PARTIAL
    except VendorBudgetExhausted as exc:
        status, error = SyncRun.Status.PARTIAL, str(exc)  # the rest stays pending
    except (VendorAuthError, VendorUnavailable) as exc:
        status, error = SyncRun.Status.FAILED, str(exc)
    except BaseException as exc:
        # Anything else (a crash, a killed worker): confirmed batches are kept.
        _run_finish(run, sync, status=SyncRun.Status.FAILED, counters=counters, stats=stats,
                    started=started, error=f"{type(exc).__name__}")
        raise
    finally:
        connector.client.close()
        credentials_keep(sync.destination, connector)
    return _run_finish(
        run, sync, status=status, counters=counters, stats=stats, started=started,
        error=error, unchanged=plan.unchanged, rejected=plan.rejected,
        skipped_consent=plan.skipped_consent, skipped_unreachable=plan.skipped_unreachable,
    )


def syncs_holding(profile_ids: Iterable[uuid.UUID]) -> list[int]:
    """Syncs that have any of these profiles in their container (to take them out)."""
    return sorted(set(
        SyncMember.objects.filter(profile_id__in=list(profile_ids), in_container=True)
        .values_list("sync_id", flat=True)
    ))


def syncs_of_segment(segment_id: int) -> list[int]:
    return list(AudienceSync.objects.filter(
        Q(segment_id=segment_id), enabled=True).values_list("pk", flat=True))
