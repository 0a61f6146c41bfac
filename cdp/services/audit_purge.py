"""Retention of the audit log: delete rows past CDP_AUDIT_RETENTION_DAYS, chained.

The purge removes a prefix of the chain (every row up to the newest one past retention,
so no hole is left), then appends an audit.purge row recording how many rows went, their
id range and the row_hash of the last one deleted: the anchor the first surviving row's
prev_hash must equal (cdp.services.audit_verify checks it). The append-only trigger lets
the DELETE through only because this transaction sets cdp.audit_purge = 'on' locally.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connections, router, transaction
from django.db.models import Max, Min

from cdp.audit import audit_append, audit_lock
from cdp.models import AuditEvent


@dataclass(frozen=True)
class PurgeResult:
    deleted: int
    event: AuditEvent | None = None


def _purge_flag(using: str, value: str) -> None:
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('cdp.audit_purge', %s, true)", [value])


def audit_purge(
    *, now: datetime, actor: str = "system:audit_purge", retention_days: int | None = None
) -> PurgeResult:
    """Delete audit rows older than the retention; a second run the same day does nothing."""
    days = retention_days or settings.CDP_AUDIT_RETENTION_DAYS
    cutoff = now - timedelta(days=days)
    using = router.db_for_write(AuditEvent)
    with transaction.atomic(using=using):
        audit_lock(using)  # no audit row may be appended while the prefix is cut
        old = AuditEvent.objects.using(using).filter(at__lt=cutoff)
        last_id = old.aggregate(last=Max("id"))["last"]
        if last_id is None:
            return PurgeResult(deleted=0)
        doomed = AuditEvent.objects.using(using).filter(id__lte=last_id)
        first_id = doomed.aggregate(first=Min("id"))["first"]
        anchor = doomed.get(id=last_id).row_hash
        tail = AuditEvent.objects.using(using).order_by("-id").values_list("row_hash", flat=True)
        tail_hash = tail.first() or ""
        _purge_flag(using, "on")
        deleted, _ = doomed.delete()
        _purge_flag(using, "off")
        event = audit_append(
            using=using,
            prev_hash=tail_hash,  # the tail itself may be gone: chain onto it regardless
            actor=actor,
            action="audit.purge",
            object_type="audit_log",
            details={
                "deleted": deleted, "first_id": first_id, "last_id": last_id,
                "anchor": anchor, "cutoff": cutoff.isoformat(), "retention_days": days,
            },
            reason=f"retention of {days} days",
        )
    return PurgeResult(deleted=deleted, event=event)
