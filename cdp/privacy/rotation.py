"""Master key rotation: re-wrap every data key under the primary master key.

Personal fields are sealed under per-record data keys (envelope encryption), so rotating
the master key never touches them: only the small wrapped keys are rewritten. Once done,
the old master key can be removed from CDP_ENCRYPTION_KEYS; backups taken before then
keep needing it, which is what lets erasure reach them (cdp.privacy.datakeys).
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction

from cdp.audit import audit_record
from cdp.models import DataKey
from cdp.privacy.crypto import data_key_rewrap, needs_rotation


@dataclass
class RotationResult:
    scanned: int = 0
    rotated: int = 0


# Other apps' master-key ciphertexts (e.g. destination credentials): each rotator
# re-encrypts its own under the primary key and returns (scanned, rotated).
_ROTATORS: list[Callable[[], tuple[int, int]]] = []


def register_rotator(rotator: Callable[[], tuple[int, int]]) -> None:
    """Called from an app's ready()."""
    if rotator not in _ROTATORS:
        _ROTATORS.append(rotator)


def keys_rotate(
    *, actor: str, chunk_size: int = 5000, progress: Callable[[int], None] | None = None
) -> RotationResult:
    """Safe to stop and run again: keys already under the primary master key are skipped."""
    result = _rotate(chunk_size, progress)
    for rotator in _ROTATORS:
        scanned, rotated = rotator()
        result.scanned += scanned
        result.rotated += rotated
    audit_record(
        actor=actor, action="keys.rotate",
        details={"scanned": result.scanned, "rotated": result.rotated},
    )
    return result


def _rotate(chunk_size: int, progress: Callable[[int], None] | None) -> RotationResult:
    result = RotationResult()
    keys = DataKey.objects.order_by("pk")
    while True:
        with transaction.atomic():
            rows = list(keys.select_for_update().only("pk", "wrapped")[:chunk_size])
            if not rows:
                return result
            changed = [row for row in rows if needs_rotation(row.wrapped)]
            for row in changed:
                row.wrapped = data_key_rewrap(row.pk, row.wrapped)
            if changed:
                DataKey.objects.bulk_update(changed, ["wrapped"], batch_size=1000)
        result.scanned += len(rows)
        result.rotated += len(changed)
        keys = DataKey.objects.order_by("pk").filter(pk__gt=rows[-1].pk)
        if progress:
            progress(len(rows))
