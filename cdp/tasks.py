"""Celery entry points of the core domain: thin wrappers over services."""

from celery import shared_task
from django.utils import timezone

from cdp.privacy.rotation import keys_rotate
from cdp.services.audit_purge import audit_purge
from cdp.services.retention import retention_enforce


@shared_task(acks_late=True, max_retries=0)
def rotate_keys_task() -> dict[str, int]:
    """Re-wrap data keys under the newest master key; idempotent (done keys are skipped)."""
    result = keys_rotate(actor="celery:rotate_keys_task")
    return {"scanned": result.scanned, "rotated": result.rotated}


@shared_task(acks_late=True, max_retries=0)
def audit_purge_task() -> int:
    """Nightly (CELERY_BEAT_SCHEDULE): drop audit rows past retention, chained. Running it
    twice is harmless: the second run finds nothing old enough."""
    return audit_purge(now=timezone.now(), actor="celery:audit_purge_task").deleted


@shared_task(acks_late=True, max_retries=0)
def retention_enforce_task(actor: str = "celery:retention_enforce_task") -> dict:
    """Nightly (CELERY_BEAT_SCHEDULE), or asked for by the DPO (`actor`, audited): delete
    what outlived its retention period. Safe to run twice or after an interrupted run: it
    only finds what is still too old."""
    result = retention_enforce(actor=actor)
    return {"events_deleted": result.events_deleted, "profiles_erased": result.profiles_erased,
            "restricted_kept": result.restricted_kept}
