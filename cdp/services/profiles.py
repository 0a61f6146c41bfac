"""Reading a profile's personal data: decrypted, and every read audited (cdp.audit_reads)."""

import uuid
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cdp.audit_reads import audit_read
from cdp.fields import CLEAR_FIELDS, ENCRYPTED_FIELDS, enc_column
from cdp.models import SourceRecord
from cdp.privacy.crypto import decrypt
from cdp.privacy.datakeys import data_keys_load, record_key
from cdp.privacy.masking import mask_personal
from cdp.selectors import profile_get


def record_plain(record: SourceRecord, key: AESGCM | None = None) -> dict[str, Any]:
    """A record's standard fields in clear (key: its data key's cipher, loaded if not
    given). Callers must audit the read."""
    key = key or record_key(record)
    values: dict[str, Any] = {
        name: decrypt(getattr(record, enc_column(name)), field=name, key=key)
        for name in ENCRYPTED_FIELDS
    }
    values.update({name: getattr(record, name) for name in CLEAR_FIELDS})
    return values


def profile_view(
    *, profile_id: uuid.UUID, actor: str, purpose: str = "", masked: bool = False
) -> dict[str, Any]:
    """Everything stored about a profile, with an audit row for the read; in clear, or with
    personal fields masked for roles that may not read them (cdp.roles)."""
    profile = profile_get(profile_id)
    shown = mask_personal if masked else dict
    stored = list(profile.records.all())
    # Recorded before decrypting: while a request is served the row is sent ahead and
    # confirmed before the answer leaves (cdp.audit_reads), so its commit overlaps the
    # decryption and the rendering; elsewhere it is written at once, in the caller's
    # transaction. A read that fails after this is still recorded as attempted.
    audit_read(
        actor=actor,
        action="profile.view",
        object_type="profile",
        object_id=str(profile.id),
        profile_id=profile.id,
        details={"purpose": purpose, "records": len(stored), "masked": masked},
    )
    keys = data_keys_load(rec.data_key_id for rec in stored)  # one query, not one a record
    records = [
        {
            "source": rec.source.name,
            "external_id": rec.external_id,
            "implicit": rec.implicit,
            **shown(record_plain(rec, keys.get(rec.data_key_id))),
            "attributes": rec.attributes,
            "received_at": rec.received_at,
            "updated_at": rec.updated_at,
        }
        for rec in stored
    ]
    return {
        "id": profile.id,
        "created_at": profile.created_at,
        "updated_at": profile.updated_at,
        "records": records,
        "event_count": profile.event_count,
        "last_event_at": profile.last_event_at,
    }
