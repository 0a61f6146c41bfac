"""Authenticated field encryption (AES-256-GCM) and keyed blind indexes (HMAC-SHA256).

Keys come from settings.CDP_ENCRYPTION_KEYS: comma-separated, each 32 random bytes in
URL-safe base64 (as Fernet.generate_key() prints them). The first key encrypts, all keys
decrypt, so adding a new key in front and running `manage.py rotate_keys` rotates.

A master-key ciphertext (version 1) is: version byte, 4-byte key id (a digest of the key,
so decryption picks the right key without trial), 12-byte random nonce, then AES-GCM
output. The field name is bound as associated data, so a ciphertext copied into another
column fails to decrypt.

Personal data uses envelope encryption, so that erasure can crypto-shred: each source
record has its own random data key, stored only wrapped (encrypted) by the master key in
its own table (cdp.models.DataKey). Its fields are version-2 ciphertexts: version byte,
nonce, AES-GCM output under the data key. Destroying the data key makes every copy of
those fields unreadable, backups included (see cdp.privacy.datakeys); rotating the master
key only re-wraps data keys.
"""

import base64
import binascii
import hashlib
import hmac
import os
import uuid
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

_VERSION = b"\x01"
_HEADER = 1 + 4 + 12
_ENVELOPE = b"\x02"
_ENVELOPE_HEADER = 1 + 12


class DecryptionError(Exception):
    """A ciphertext could not be decrypted (unknown key, tampering, wrong column)."""


@dataclass(frozen=True)
class Keyring:
    primary_id: bytes
    ciphers: dict[bytes, AESGCM]

    @property
    def primary(self) -> AESGCM:
        return self.ciphers[self.primary_id]

    @property
    def header(self) -> bytes:
        return _VERSION + self.primary_id


def _key_id(key: bytes) -> bytes:
    return hashlib.sha256(b"cdp-key-id:" + key).digest()[:4]


@lru_cache(maxsize=8)
def _keyring(raw: str) -> Keyring:
    ciphers: dict[bytes, AESGCM] = {}
    primary = b""
    for position, text in enumerate(part.strip() for part in raw.split(",") if part.strip()):
        try:
            key = base64.urlsafe_b64decode(text.encode())
        except (binascii.Error, ValueError) as exc:
            raise ImproperlyConfigured(
                f"CDP_ENCRYPTION_KEYS: key #{position + 1} is not URL-safe base64"
            ) from exc
        if len(key) != 32:
            raise ImproperlyConfigured(
                f"CDP_ENCRYPTION_KEYS: key #{position + 1} must decode to 32 bytes"
            )
        kid = _key_id(key)
        ciphers.setdefault(kid, AESGCM(key))
        primary = primary or kid
    if not ciphers:
        raise ImproperlyConfigured("CDP_ENCRYPTION_KEYS holds no key")
    return Keyring(primary_id=primary, ciphers=ciphers)


def keyring() -> Keyring:
    """The current keys; cached per settings value so tests can override them."""
    return _keyring(settings.CDP_ENCRYPTION_KEYS)


def encrypt(value: str | None, *, field: str) -> bytes | None:
    """Encrypt one field value under the primary key; None stays None."""
    if value is None or value == "":
        return None
    ring = keyring()
    nonce = os.urandom(12)
    return ring.header + nonce + ring.primary.encrypt(nonce, value.encode(), field.encode())


def decrypt(
    token: bytes | memoryview | None, *, field: str, key: AESGCM | None = None
) -> str | None:
    """Decrypt a value written by encrypt() or seal_many() (the latter needs its data key);
    raises DecryptionError, never leaks the value."""
    if token is None:
        return None
    token = bytes(token)
    if token[:1] == _ENVELOPE and len(token) > _ENVELOPE_HEADER:
        if key is None:
            raise DecryptionError(f"{field} is under a data key that is gone (erased?)")
        try:
            return key.decrypt(token[1:13], token[13:], field.encode()).decode()
        except InvalidTag as exc:
            raise DecryptionError(f"ciphertext of {field} failed authentication") from exc
    if len(token) <= _HEADER or token[:1] != _VERSION:
        raise DecryptionError(f"malformed ciphertext in {field}")
    cipher = keyring().ciphers.get(token[1:5])
    if cipher is None:
        raise DecryptionError(f"no configured key can decrypt {field} (key retired?)")
    try:
        return cipher.decrypt(token[5:17], token[17:], field.encode()).decode()
    except InvalidTag as exc:
        raise DecryptionError(f"ciphertext of {field} failed authentication") from exc


@dataclass(frozen=True)
class DataKeyMaterial:
    """A fresh data key: its id, its wrapped form (what is stored) and its cipher."""

    id: uuid.UUID
    wrapped: bytes
    cipher: AESGCM


def _wrap_aad(key_id: uuid.UUID) -> bytes:
    # Bound to its id: a wrapped key copied onto another DataKey row fails to unwrap.
    return b"cdp-data-key:" + key_id.bytes


def data_key_new() -> DataKeyMaterial:
    """A random 256-bit data key wrapped by the primary master key."""
    ring = keyring()
    material = os.urandom(32 + 12)
    key_id = uuid.uuid4()
    nonce = material[32:]
    wrapped = ring.header + nonce + ring.primary.encrypt(nonce, material[:32], _wrap_aad(key_id))
    return DataKeyMaterial(key_id, wrapped, AESGCM(material[:32]))


def _unwrap(key_id: uuid.UUID, wrapped: bytes | memoryview) -> bytes:
    wrapped = bytes(wrapped)
    cipher = keyring().ciphers.get(wrapped[1:5])
    if wrapped[:1] != _VERSION or cipher is None:
        raise DecryptionError("no configured master key can unwrap this data key")
    try:
        return cipher.decrypt(wrapped[5:17], wrapped[17:], _wrap_aad(key_id))
    except InvalidTag as exc:
        raise DecryptionError("data key failed authentication") from exc


def data_key_unwrap(key_id: uuid.UUID, wrapped: bytes | memoryview) -> AESGCM:
    """The cipher of a stored data key; DecryptionError if no master key opens it."""
    return AESGCM(_unwrap(key_id, wrapped))


def data_key_rewrap(key_id: uuid.UUID, wrapped: bytes | memoryview) -> bytes:
    """The same data key wrapped by the primary master key (key rotation)."""
    ring, nonce = keyring(), os.urandom(12)
    plain = _unwrap(key_id, wrapped)
    return ring.header + nonce + ring.primary.encrypt(nonce, plain, _wrap_aad(key_id))


def seal_many(key: AESGCM, values: dict[str, str | None]) -> dict[str, bytes | None]:
    """Encrypt several fields of one record under its data key (field name -> value)."""
    present = [(name, value) for name, value in values.items() if value]
    nonces = os.urandom(12 * len(present))
    out: dict[str, bytes | None] = dict.fromkeys(values)
    for position, (name, value) in enumerate(present):
        nonce = nonces[12 * position : 12 * position + 12]
        out[name] = _ENVELOPE + nonce + key.encrypt(nonce, value.encode(), name.encode())
    return out


def needs_rotation(token: bytes | memoryview | None) -> bool:
    """True when a master-key ciphertext (or wrapped data key) was written under a key
    other than the primary one."""
    if token is None:
        return False
    return bytes(token[1:5]) != keyring().primary_id


@lru_cache(maxsize=8)
def _index_key(raw: str) -> bytes:
    return hashlib.sha256(b"cdp-blind-index:" + raw.encode()).digest()


def blind_index(kind: str, normalized: str | None) -> str | None:
    """Keyed HMAC-SHA256 of a normalized identifier, for exact lookup without decrypting.

    The kind (email, phone, customer_id) is part of the message so equal strings of
    different kinds never share an index value.
    """
    if not normalized:
        return None
    key = _index_key(settings.CDP_BLIND_INDEX_KEY)
    return hmac.digest(key, f"{kind}:{normalized}".encode(), "sha256").hex()


def keyed_hash(value: str) -> str:
    """Keyed hash for values kept only for comparison (e.g. IP address as evidence)."""
    key = _index_key(settings.CDP_BLIND_INDEX_KEY)
    return hmac.digest(key, b"hash:" + value.encode(), "sha256").hex()
