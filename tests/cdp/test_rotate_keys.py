"""manage.py rotate_keys: every ciphertext re-encrypted under the primary key, once."""

import base64
import io
import os

from django.core.management import call_command
from django.test import override_settings

from cdp.models import AuditEvent, SourceRecord
from cdp.privacy.crypto import decrypt, needs_rotation
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


def _ingest_under_key_a(source) -> dict[str, dict]:
    with override_settings(CDP_ENCRYPTION_KEYS=KEY_A):
        records = [record_parse(raw, strict=True).record for raw in RAW]
        records_upsert(source=source, records=records)
        return {
            r.external_id: {**record_plain(r), "match": decrypt(r.match_enc, field="match")}
            for r in SourceRecord.objects.all()
        }


def _rotate(keys: str) -> str:
    out = io.StringIO()
    with override_settings(CDP_ENCRYPTION_KEYS=keys):
        call_command("rotate_keys", stdout=out)
    return out.getvalue()


def test_rotate_keys_reencrypts_every_column(source):
    """After rotation every *_enc and match_enc is under key B and decrypts with B alone."""
    before = _ingest_under_key_a(source)
    stored = {c: list(SourceRecord.objects.values_list(c, flat=True)) for c in COLUMNS}

    output = _rotate(f"{KEY_B},{KEY_A}")
    assert "3 of 3 records re-encrypted" in output
    assert AuditEvent.objects.filter(action="keys.rotate").count() == 1

    with override_settings(CDP_ENCRYPTION_KEYS=KEY_B):
        rows = list(SourceRecord.objects.all())
        present = 0
        for row in rows:
            for column in COLUMNS:
                token = getattr(row, column)
                assert not needs_rotation(token), (row.external_id, column)
                present += token is not None
            after = {**record_plain(row), "match": decrypt(row.match_enc, field="match")}
            assert after == before[row.external_id]
        # c1 fills every column, c2 three, c3 one: each kind of column was really rotated.
        assert present == len(COLUMNS) + 3 + 1
    for column in COLUMNS:
        new = list(SourceRecord.objects.values_list(column, flat=True))
        changed = [a != b for a, b in zip(stored[column], new, strict=True) if a is not None]
        assert all(changed), column


def test_second_run_rotates_nothing(source):
    """Running rotate_keys again finds every row already under the primary key."""
    _ingest_under_key_a(source)
    assert "3 of 3" in _rotate(f"{KEY_B},{KEY_A}")
    snapshot = {c: list(SourceRecord.objects.order_by("pk").values_list(c, flat=True))
                for c in COLUMNS}
    assert "0 of 3 records re-encrypted" in _rotate(f"{KEY_B},{KEY_A}")
    assert snapshot == {c: list(SourceRecord.objects.order_by("pk").values_list(c, flat=True))
                        for c in COLUMNS}


def test_rotation_in_small_chunks_covers_every_row(source):
    """Chunked rotation visits every row exactly once."""
    _ingest_under_key_a(source)
    with override_settings(CDP_ENCRYPTION_KEYS=f"{KEY_B},{KEY_A}"):
        result = keys_rotate(actor="test", chunk_size=2)
        assert (result.scanned, result.rotated) == (3, 3)
        assert not any(needs_rotation(t) for c in COLUMNS
                       for t in SourceRecord.objects.values_list(c, flat=True))
