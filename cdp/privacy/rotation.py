"""Re-encrypt every stored ciphertext under the primary key, chunk by chunk."""

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction

from cdp.audit import audit_record
from cdp.fields import ENCRYPTED_FIELDS, enc_column
from cdp.models import SourceRecord
from cdp.privacy.crypto import decrypt, encrypt, needs_rotation

# column -> associated-data name used when the column was encrypted.
_COLUMNS: dict[str, str] = {enc_column(f): f for f in ENCRYPTED_FIELDS} | {"match_enc": "match"}


@dataclass
class RotationResult:
    scanned: int = 0
    rotated: int = 0


def keys_rotate(
    *, actor: str, chunk_size: int = 2000, progress: Callable[[int], None] | None = None
) -> RotationResult:
    """Safe to stop and run again: rows already under the primary key are skipped."""
    result = _rotate(chunk_size, progress)
    audit_record(
        actor=actor, action="keys.rotate",
        details={"scanned": result.scanned, "rotated": result.rotated},
    )
    return result


def _rotate(chunk_size: int, progress: Callable[[int], None] | None) -> RotationResult:
    result = RotationResult()
    last_pk = 0
    columns = list(_COLUMNS)
    while True:
        with transaction.atomic():
            rows = list(
                SourceRecord.objects.filter(pk__gt=last_pk)
                .order_by("pk")
                .select_for_update()
                .only("pk", *columns)[:chunk_size]
            )
            if not rows:
                return result
            changed = []
            for row in rows:
                stale = [c for c in columns if needs_rotation(getattr(row, c))]
                for column in stale:
                    plain = decrypt(getattr(row, column), field=_COLUMNS[column])
                    setattr(row, column, encrypt(plain, field=_COLUMNS[column]))
                if stale:
                    changed.append(row)
            if changed:
                SourceRecord.objects.bulk_update(changed, columns, batch_size=500)
        result.scanned += len(rows)
        result.rotated += len(changed)
        last_pk = rows[-1].pk
        if progress:
            progress(len(rows))
