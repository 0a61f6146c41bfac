"""Check the audit hash chain end to end, streaming in id order with constant memory.

A row is sound when its row_hash matches its content and its prev_hash is the row_hash of
the row before it. The first row may start the chain (prev_hash '') or follow rows the
retention purge removed: then a later audit.purge row records that prev_hash as its anchor.
"""

from collections.abc import Iterator
from dataclasses import dataclass

from django.db import transaction

from cdp.audit import CHAINED_FIELDS, audit_canonical, audit_hash, audit_record
from cdp.models import AuditEvent


@dataclass(frozen=True)
class VerifyResult:
    checked: int
    first_broken_id: int | None = None
    reason: str = ""

    @property
    def intact(self) -> bool:
        return self.first_broken_id is None


def _anchored(first_id: int, prev_hash: str) -> bool:
    """True if the chain may start here: at its very beginning, or after a purge."""
    if not prev_hash:
        return True
    return AuditEvent.objects.filter(
        action="audit.purge", id__gte=first_id, details__anchor=prev_hash
    ).exists()


def audit_verify(*, chunk_size: int = 5000) -> VerifyResult:
    """The first row that breaks the chain, with why; or how many rows were checked."""
    # One query, one snapshot: a purge or new rows arriving meanwhile do not confuse it.
    with transaction.atomic():
        rows = (
            AuditEvent.objects.order_by("id")
            .values_list(*CHAINED_FIELDS, "row_hash")
            .iterator(chunk_size=chunk_size)
        )
        try:
            return _walk(rows)
        finally:
            rows.close()  # while the transaction (and so its cursor) is still open


def _walk(rows: Iterator[tuple]) -> VerifyResult:
    checked = 0
    previous: tuple[int, str] | None = None  # (id, row_hash) of the row before
    for values in rows:
        row = dict(zip((*CHAINED_FIELDS, "row_hash"), values, strict=True))
        row_id, prev_hash = row["id"], row["prev_hash"]
        if not row["row_hash"]:
            return VerifyResult(checked, row_id, "not chained (written outside audit_record)")
        if audit_hash(prev_hash, audit_canonical(row)) != row["row_hash"]:
            return VerifyResult(checked, row_id, "content does not match its row_hash")
        if previous is None and not _anchored(row_id, prev_hash):
            return VerifyResult(
                checked, row_id,
                "prev_hash is neither the chain start nor an anchor recorded by an "
                "audit.purge row (rows before it were removed)",
            )
        if previous is not None and prev_hash != previous[1]:
            return VerifyResult(
                checked, row_id,
                f"prev_hash is not the row_hash of row {previous[0]} "
                "(a row before it was removed or rewritten)",
            )
        previous = (row_id, row["row_hash"])
        checked += 1
    return VerifyResult(checked)


def audit_chain_check(*, actor: str, chunk_size: int = 5000) -> VerifyResult:
    """Verify the chain and record the outcome as an audit row (action audit.verify), so
    the admin can show when it was last checked, by whom and with what result."""
    result = audit_verify(chunk_size=chunk_size)
    with transaction.atomic():
        audit_record(
            actor=actor, action="audit.verify", object_type="audit_log",
            details={"checked": result.checked, "intact": result.intact,
                     "first_broken_id": result.first_broken_id, "reason": result.reason},
        )
    return result


def audit_last_check() -> AuditEvent | None:
    """The latest recorded verification (audit_chain_check), if any."""
    return AuditEvent.objects.filter(action="audit.verify").order_by("-id").first()
