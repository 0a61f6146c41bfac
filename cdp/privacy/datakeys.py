"""Loading and destroying source records' data keys (envelope encryption).

A record's personal fields are sealed under its own data key (cdp.privacy.crypto), kept
wrapped by the master key in cdp.models.DataKey. Readers load the keys of the records
they decrypt in one query; erasure destroys them (crypto-shredding).

Backups: a backup taken before an erasure still holds the wrapped key until the master
key that wrapped it is retired. Rotate the master key (`manage.py rotate_keys`, which only
re-wraps data keys) at least as often as backups expire, then drop the old key: from then
on no backup of the erased subject decrypts.
"""

import uuid
from collections.abc import Iterable

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cdp.models import DataKey, SourceRecord
from cdp.privacy.crypto import data_key_unwrap

_CHUNK = 5000


def data_keys_load(key_ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, AESGCM]:
    """Ciphers of the given data keys; a destroyed key is simply absent."""
    wanted = sorted({k for k in key_ids if k is not None})
    found: dict[uuid.UUID, AESGCM] = {}
    for start in range(0, len(wanted), _CHUNK):
        rows = DataKey.objects.filter(pk__in=wanted[start : start + _CHUNK])
        for key_id, wrapped in rows.values_list("id", "wrapped"):
            found[key_id] = data_key_unwrap(key_id, wrapped)
    return found


def record_key(record: SourceRecord) -> AESGCM | None:
    """The cipher of one record's data key (None if it was destroyed)."""
    return data_keys_load([record.data_key_id]).get(record.data_key_id)


def data_keys_destroy(key_ids: Iterable[uuid.UUID | None]) -> int:
    """Delete data keys for good; returns how many existed."""
    wanted = sorted({k for k in key_ids if k is not None})
    destroyed = 0
    for start in range(0, len(wanted), _CHUNK):
        destroyed += DataKey.objects.filter(pk__in=wanted[start : start + _CHUNK]).delete()[0]
    return destroyed
