"""Celery entry points of the connectors: thin, idempotent wrappers over the engine."""

from celery import shared_task
from django.core.cache import cache

from connectors.engine import runs_reap, sync_run
from connectors.erasure import deliveries_send
from connectors.models import AudienceSync, SyncRun
from connectors.reconcile import sync_reconcile


@shared_task(acks_late=True, max_retries=0)
def sync_run_task(sync_id: int, trigger: str = SyncRun.Trigger.MANUAL) -> int | None:
    """One run; does nothing if another run of the sync holds the lease."""
    cache.delete(debounce_key(sync_id))
    run = sync_run(sync_id=sync_id, trigger=trigger)
    return run.pk if run else None


def debounce_key(sync_id: int) -> str:
    return f"cdp:sync:{sync_id}:queued"


@shared_task(acks_late=True, max_retries=0)
def syncs_nightly_task() -> dict[str, int]:
    """02:00 Europe/Paris: reconcile every enabled sync with its container, then retry
    erasure deliveries. Each sync is its own task, so one slow vendor delays no other."""
    runs_reap()
    ids = list(AudienceSync.objects.filter(enabled=True, destination__enabled=True)
               .values_list("pk", flat=True))
    for sync_id in ids:
        sync_reconcile_task.delay(sync_id)
    return {"syncs": len(ids), **deliveries_send()}


@shared_task(acks_late=True, max_retries=0)
def sync_reconcile_task(sync_id: int) -> int | None:
    run = sync_reconcile(sync_id=sync_id)
    return run.pk if run else None


@shared_task(acks_late=True, max_retries=0)
def erasure_deliveries_task(delivery_ids: list[int] | None = None) -> dict[str, int]:
    """Send erasure deliveries due now (or these); every 15 minutes and after erasures."""
    return deliveries_send(delivery_ids=delivery_ids)
