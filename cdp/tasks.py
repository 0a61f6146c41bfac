"""Celery entry points of the core domain: thin wrappers over services."""

from celery import shared_task

from cdp.privacy.rotation import keys_rotate


@shared_task(acks_late=True, max_retries=0)
def rotate_keys_task() -> dict[str, int]:
    """Re-encrypt under the newest key in the worker; idempotent (rotated rows are skipped)."""
    result = keys_rotate(actor="celery:rotate_keys_task")
    return {"scanned": result.scanned, "rotated": result.rotated}
