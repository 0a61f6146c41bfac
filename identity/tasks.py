"""Celery entry points of identity: thin, idempotent wrappers over its services."""

from celery import shared_task
from django.db import OperationalError

from cdp.models import SourceRecord

# identity.incremental / identity.resolve import DuckDB, Arrow and Splink: imported in the
# tasks only, so that every other process (web, commands, exports) stays small.


@shared_task(acks_late=True, autoretry_for=(OperationalError,), max_retries=3,
             retry_backoff=True)
def identity_match_task(source_id: int, external_ids: list[str]) -> int:
    """Match records that just arrived or changed (when a model is trained), then refresh
    their profiles' golden records; doing it again changes nothing."""
    from identity.golden import records_golden_refresh
    from identity.incremental import records_match

    ids = list(SourceRecord.objects.filter(source_id=source_id, external_id__in=external_ids)
               .values_list("pk", flat=True))
    outcome = records_match(record_ids=ids)
    records_golden_refresh(ids, also=outcome.touched)
    return len(outcome.joined)


@shared_task(acks_late=True, max_retries=0)
def identity_resolve_full_task() -> dict:
    """Nightly (beat): the whole base again, with the active model and every decision."""
    from identity.resolve import resolve_full

    result = resolve_full(actor="celery:identity_resolve_full_task")
    return {"records": result.records, "moved": result.moved, "merged": result.merged}
