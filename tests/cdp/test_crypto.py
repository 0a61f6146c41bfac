"""cdp.privacy.crypto: AES-GCM field encryption, key rotation support and blind indexes."""

import base64
import os

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from cdp.privacy.crypto import (
    DecryptionError,
    blind_index,
    decrypt,
    encrypt,
    keyed_hash,
    needs_rotation,
)

OLD_KEY = base64.urlsafe_b64encode(os.urandom(32)).decode()
NEW_KEY = base64.urlsafe_b64encode(os.urandom(32)).decode()
PLAIN = "élodie.martin@example.fr"


def test_round_trip():
    """decrypt(encrypt(x)) gives x back, including non-ASCII text; None and '' stay None."""
    token = encrypt(PLAIN, field="email")
    assert isinstance(token, bytes) and PLAIN.encode() not in token
    assert decrypt(token, field="email") == PLAIN
    assert decrypt(memoryview(token), field="email") == PLAIN
    assert encrypt(None, field="email") is None and encrypt("", field="email") is None
    assert decrypt(None, field="email") is None


def test_ciphertext_differs_each_time():
    """A random nonce makes two encryptions of one value differ."""
    tokens = {encrypt(PLAIN, field="email") for _ in range(20)}
    assert len(tokens) == 20


def test_ciphertext_moved_to_another_field_fails():
    """The field name is associated data: a ciphertext copied to another column is refused."""
    token = encrypt(PLAIN, field="email")
    with pytest.raises(DecryptionError) as caught:
        decrypt(token, field="phone")
    assert PLAIN not in str(caught.value)


@pytest.mark.parametrize("position", [0, 3, 10, 20, -1])
def test_tampered_byte_fails(position):
    """Flipping any byte (header, nonce, ciphertext or tag) makes decryption fail."""
    token = bytearray(encrypt(PLAIN, field="email"))
    token[position] ^= 0x01
    with pytest.raises(DecryptionError):
        decrypt(bytes(token), field="email")


def test_truncated_ciphertext_fails():
    """A ciphertext cut short is reported as malformed, not as an index error."""
    token = encrypt(PLAIN, field="email")
    for length in (0, 5, 17):
        with pytest.raises(DecryptionError):
            decrypt(token[:length], field="email")


def test_old_key_still_decrypts_and_needs_rotation():
    """With keys 'new,old', old ciphertexts decrypt and are flagged; fresh ones are not."""
    with override_settings(CDP_ENCRYPTION_KEYS=OLD_KEY):
        old_token = encrypt(PLAIN, field="email")
        assert needs_rotation(old_token) is False
    with override_settings(CDP_ENCRYPTION_KEYS=f"{NEW_KEY},{OLD_KEY}"):
        assert decrypt(old_token, field="email") == PLAIN
        assert needs_rotation(old_token) is True
        fresh = encrypt(PLAIN, field="email")
        assert needs_rotation(fresh) is False
        assert needs_rotation(None) is False
    with override_settings(CDP_ENCRYPTION_KEYS=NEW_KEY):
        assert decrypt(fresh, field="email") == PLAIN


def test_retired_key_cannot_decrypt_and_does_not_leak():
    """A ciphertext under a key no longer configured raises DecryptionError without the value."""
    with override_settings(CDP_ENCRYPTION_KEYS=OLD_KEY):
        token = encrypt(PLAIN, field="email")
    with override_settings(CDP_ENCRYPTION_KEYS=NEW_KEY), pytest.raises(DecryptionError) as caught:
        decrypt(token, field="email")
    assert PLAIN not in str(caught.value) and "example" not in str(caught.value)


@pytest.mark.parametrize(
    "keys",
    ["not base64 at all!", "abc",
     base64.urlsafe_b64encode(os.urandom(16)).decode(),
     base64.urlsafe_b64encode(os.urandom(33)).decode(),
     f"{NEW_KEY},{base64.urlsafe_b64encode(b'short').decode()}",
     " , "],
)
def test_bad_key_configuration_is_improperly_configured(keys):
    """Keys that are not URL-safe base64 of exactly 32 bytes, or no key, are a config error."""
    with override_settings(CDP_ENCRYPTION_KEYS=keys), pytest.raises(ImproperlyConfigured):
        encrypt(PLAIN, field="email")


def test_blind_index_is_deterministic_and_kind_separated():
    """Same kind and value give the same index; another kind gives another one."""
    value = "+33612345678"
    assert blind_index("phone", value) == blind_index("phone", value)
    assert len(blind_index("phone", value)) == 64
    assert blind_index("phone", value) != blind_index("email", value)
    assert blind_index("phone", value) != blind_index("phone", "+33612345679")
    assert value not in blind_index("phone", value)
    assert blind_index("email", None) is None and blind_index("email", "") is None


def test_blind_index_depends_on_the_key():
    """Changing CDP_BLIND_INDEX_KEY changes every index (they are keyed, not plain hashes)."""
    before = blind_index("email", "jo@example.org")
    hashed = keyed_hash("192.0.2.1")
    with override_settings(CDP_BLIND_INDEX_KEY="another-blind-index-key-of-enough-length-1234"):
        assert blind_index("email", "jo@example.org") != before
        assert keyed_hash("192.0.2.1") != hashed
    assert blind_index("email", "jo@example.org") == before


def test_data_key_seals_fields_and_unwraps_only_by_its_own_id():
    """A data key round-trips through its wrapped form; fields sealed under it need it."""
    from cdp.privacy.crypto import data_key_new, data_key_unwrap, seal_many

    material = data_key_new()
    sealed = seal_many(material.cipher, {"email": PLAIN, "phone": None})
    assert sealed["phone"] is None and PLAIN.encode() not in sealed["email"]
    again = data_key_unwrap(material.id, material.wrapped)
    assert decrypt(sealed["email"], field="email", key=again) == PLAIN
    with pytest.raises(DecryptionError):
        decrypt(sealed["email"], field="email")  # no data key: erased
    with pytest.raises(DecryptionError):
        decrypt(sealed["email"], field="email", key=data_key_new().cipher)  # another's key
    with pytest.raises(DecryptionError):
        data_key_unwrap(data_key_new().id, material.wrapped)  # wrapped key moved to another id
