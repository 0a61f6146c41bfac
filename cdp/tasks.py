"""Celery entry points of the core domain: thin wrappers over services."""

from celery import shared_task
from django.utils import timezone

from cdp.privacy.rotation import keys_rotate
from cdp.services.audit_purge import audit_purge


@shared_task(acks_late=True, max_retries=0)
def rotate_keys_task() -> dict[str, int]:
    """Re-encrypt under the newest key in the worker; idempotent (rotated rows are skipped)."""
    result = keys_rotate(actor="celery:rotate_keys_task")
    return {"scanned": result.scanned, "rotated": result.rotated}


@shared_task(acks_late=True, max_retries=0)
def audit_purge_task() -> int:
    """Nightly (CELERY_BEAT_SCHEDULE): drop audit rows past retention, chained. Running it
    twice is harmless: the second run finds nothing old enough."""
    return audit_purge(now=timezone.now(), actor="celery:audit_purge_task").deleted
