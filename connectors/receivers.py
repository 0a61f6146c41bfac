"""What starts a sync: membership changes (debounced), privacy events (at once), erasure."""

from typing import Any

from django.conf import settings
from django.core.cache import cache

from connectors.engine import syncs_holding, syncs_of_segment
from connectors.models import AudienceSync, ErasureDelivery, SyncRun
from connectors.tasks import debounce_key, erasure_deliveries_task, sync_run_task

_WITHDRAWN = {"withdrawn", "denied"}


def sync_on_membership_change(sender: Any, segment_id: int, **kwargs: Any) -> None:
    """Coalesce a burst of changes into one run per sync: the first change queues a run
    CDP_SYNC_DEBOUNCE_S later, the next ones find it queued."""
    for sync_id in syncs_of_segment(segment_id):
        if cache.add(debounce_key(sync_id), 1, timeout=settings.CDP_SYNC_DEBOUNCE_S + 60):
            sync_run_task.apply_async((sync_id, SyncRun.Trigger.CHANGE),
                                      countdown=settings.CDP_SYNC_DEBOUNCE_S)


def _privacy_runs(sync_ids: list[int]) -> None:
    for sync_id in sync_ids:
        sync_run_task.delay(sync_id, SyncRun.Trigger.PRIVACY)


def sync_on_withdrawal(sender: Any, profile_ids: Any, purposes: Any, statuses: Any,
                       **kwargs: Any) -> None:
    """A withdrawal (or denial) takes the person out of every destination using that
    purpose at once, whether or not the segment's rule looks at consent."""
    if not set(statuses) & _WITHDRAWN:
        return
    holding = set(syncs_holding(profile_ids))
    _privacy_runs(sorted(
        AudienceSync.objects.filter(pk__in=holding, destination__purpose_id__in=list(purposes))
        .values_list("pk", flat=True)
    ))


def sync_on_restriction(sender: Any, profile_id: Any, **kwargs: Any) -> None:
    _privacy_runs(syncs_holding([profile_id]))


def deliver_on_erasure(sender: Any, profile_ids: Any, **kwargs: Any) -> None:
    ids = list(ErasureDelivery.objects.filter(
        profile_id__in=list(profile_ids), status=ErasureDelivery.Status.PENDING
    ).values_list("pk", flat=True))
    if ids:
        erasure_deliveries_task.delay(ids)


def sync_on_identity_change(sender: Any, profile_ids: Any, retired: Any, **kwargs: Any) -> None:
    """Merged profiles: what was sent for the retired id is now the survivor's (same
    person, same vendor contact), unless the survivor was sent on its own; then the
    retired row is left to be taken out by the next run. Affected syncs run soon."""
    _members_follow(dict(retired))
    for sync_id in syncs_holding(set(profile_ids) | set(dict(retired).values())):
        if cache.add(debounce_key(sync_id), 1, timeout=settings.CDP_SYNC_DEBOUNCE_S + 60):
            sync_run_task.apply_async((sync_id, SyncRun.Trigger.CHANGE),
                                      countdown=settings.CDP_SYNC_DEBOUNCE_S)


def _members_follow(retired: dict[Any, Any]) -> None:
    """SyncMember rows of retired profiles move to the survivor where it has none."""
    from django.db import connection, transaction
    from django.db.models import Exists, OuterRef

    from cdp.db import staged_rows
    from connectors.models import SyncMember

    if not retired:
        return
    if connection.vendor != "postgresql":
        for old, new in retired.items():
            taken = SyncMember.objects.filter(sync=OuterRef("sync"), profile_id=new)
            SyncMember.objects.filter(profile_id=old).exclude(Exists(taken)).update(profile_id=new)
        return
    table = SyncMember._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        staged = staged_rows(cursor, "_sync_retired", [("old", "uuid"), ("new", "uuid")],
                              list(retired.items()))
        # One row per (sync, survivor): two retired profiles sent to the same sync must
        # not both become the survivor's row (the later run removes the other).
        cursor.execute(
            f"UPDATE {table} m SET profile_id = c.new FROM ("  # noqa: S608
            f"SELECT DISTINCT ON (o.sync_id, r.new) o.id, r.new FROM {table} o "
            f"JOIN {staged} r ON o.profile_id = r.old WHERE NOT EXISTS ("
            f"SELECT 1 FROM {table} t WHERE t.sync_id = o.sync_id AND t.profile_id = r.new) "
            "ORDER BY o.sync_id, r.new, o.id) c WHERE m.id = c.id")
