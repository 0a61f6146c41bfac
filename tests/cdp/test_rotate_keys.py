"""manage.py rotate_keys: every data key re-wrapped under the primary master key, once.

Personal fields are sealed under per-record data keys; rotation leaves those ciphertexts
alone and only re-wraps the keys, after which the old master key can be retired.
"""

import base64
import io
import os

import pytest
from django.core.management import call_command
from django.test import override_settings

from cdp.models import AuditEvent, DataKey, SourceRecord
from cdp.privacy.crypto import DecryptionError, decrypt, needs_rotation
from cdp.privacy.datakeys import record_key
from cdp.privacy.rotation import keys_rotate
from cdp.services.profiles import record_plain
from cdp.services.record_parsing import record_parse
from cdp.services.records import records_upsert

KEY_A = base64.urlsafe_b64encode(os.urandom(32)).decode()
KEY_B = base64.urlsafe_b64encode(os.urandom(32)).decode()
COLUMNS = [
    "first_name_enc", "last_name_enc", "email_enc", "phone_enc", "birth_date_enc",
    "address_line1_enc", "address_line2_enc", "customer_id_enc", "match_enc",
]
RAW = [
    {"external_id": "c1", "first_name": "Élodie", "last_name": "Martin",
     "email": "elodie.martin@example.fr", "phone": "06 12 34 56 78", "birth_date": "12/04/1990",
     "address_line1": "12 rue de la Paix", "address_line2": "Bâtiment B",
     "customer_id": "CUST-001", "city": "Lyon"},
    {"external_id": "c2", "first_name": "Jean", "email": "jean.dupont@example.org"},
    {"external_id": "c3", "customer_id": "CUST-003"},
]


def _plain(record: SourceRecord) -> dict:
    key = record_key(record)
    return {**record_plain(record, key), "match": decrypt(record.match_enc, field="match", key=key)}


def _ingest_under_key_a(source) -> dict[str, dict]:
    with override_settings(CDP_ENCRYPTION_KEYS=KEY_A):
        records = [record_parse(raw, strict=True).record for raw in RAW]
        records_upsert(source=source, records=records)
        return {r.external_id: _plain(r) for r in SourceRecord.objects.all()}


def _rotate(keys: str) -> str:
    out = io.StringIO()
    with override_settings(CDP_ENCRYPTION_KEYS=keys):
        call_command("rotate_keys", stdout=out)
    return out.getvalue()


def _fields() -> dict[str, list]:
    return {c: list(SourceRecord.objects.order_by("pk").values_list(c, flat=True))
            for c in COLUMNS}


def test_rotate_keys_rewraps_every_data_key_and_old_key_can_retire(source):
    """After rotation every data key is under key B and every field decrypts with B alone;
    the field ciphertexts themselves are untouched (no mass re-encryption)."""
    before = _ingest_under_key_a(source)
    fields = _fields()
    wrapped = dict(DataKey.objects.values_list("pk", "wrapped"))
    assert len(wrapped) == 3

    output = _rotate(f"{KEY_B},{KEY_A}")
    assert "3 of 3 data keys re-wrapped" in output
    assert AuditEvent.objects.filter(action="keys.rotate").count() == 1

    assert _fields() == fields
    with override_settings(CDP_ENCRYPTION_KEYS=KEY_B):
        for key_id, token in DataKey.objects.values_list("pk", "wrapped"):
            assert not needs_rotation(token)
            assert bytes(token) != bytes(wrapped[key_id])
        assert {r.external_id: _plain(r) for r in SourceRecord.objects.all()} == before
        present = sum(v is not None for values in fields.values() for v in values)
        # c1 fills every column, c2 three, c3 one.
        assert present == len(COLUMNS) + 3 + 1


def test_without_rotation_retiring_the_old_key_makes_data_unreadable(source):
    """The master key really protects the data keys: drop it early and nothing decrypts."""
    _ingest_under_key_a(source)
    with override_settings(CDP_ENCRYPTION_KEYS=KEY_B):
        with pytest.raises(DecryptionError):
            record_key(SourceRecord.objects.first())


def test_second_run_rotates_nothing(source):
    """Running rotate_keys again finds every key already under the primary key."""
    _ingest_under_key_a(source)
    assert "3 of 3" in _rotate(f"{KEY_B},{KEY_A}")
    snapshot = list(DataKey.objects.order_by("pk").values_list("wrapped", flat=True))
    assert "0 of 3 data keys re-wrapped" in _rotate(f"{KEY_B},{KEY_A}")
    assert snapshot == list(DataKey.objects.order_by("pk").values_list("wrapped", flat=True))


def test_rotation_in_small_chunks_covers_every_key(source):
    """Chunked rotation visits every key exactly once."""
    _ingest_under_key_a(source)
    with override_settings(CDP_ENCRYPTION_KEYS=f"{KEY_B},{KEY_A}"):
        result = keys_rotate(actor="test", chunk_size=2)
        assert (result.scanned, result.rotated) == (3, 3)
        assert not any(needs_rotation(t) for t in DataKey.objects.values_list("wrapped", flat=True))
