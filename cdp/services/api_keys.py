"""API keys: random secrets shown once; only their SHA-256 is stored."""

import hashlib
import hmac
import re
import secrets
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from cdp.audit import audit_record
from cdp.models import ApiKey

_TOUCH_EVERY = timedelta(minutes=1)


class InvalidScope(ValueError):
    """Bad scopes or rate for a key."""


def _hash(raw: str) -> str:
    # The key has 240 bits of entropy, so a fast hash is enough (no password stretching).
    return hashlib.sha256(raw.encode()).hexdigest()


_RATE = re.compile(r"^[1-9]\d*/(s|sec|second|m|min|minute|h|hour|d|day)$")


def check_rate(rate: str) -> None:
    """A key's own rate, in DRF throttle syntax ("1000/min"); empty means the default."""
    if rate and not _RATE.match(rate):
        raise InvalidScope("rate must look like 1000/min (per s, min, hour or day)")


def api_key_create(
    *,
    name: str,
    scopes: list[str],
    rate: str = "",
    created_by: AbstractBaseUser | None = None,
    actor: str = "system",
) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the clear key, which is never retrievable again."""
    check_rate(rate)
    unknown = sorted(set(scopes) - set(ApiKey.Scope.values))
    if unknown or not scopes:
        raise InvalidScope(
            (f"unknown scope(s): {', '.join(unknown)}" if unknown else "at least one scope")
            + f" (scopes: {', '.join(ApiKey.Scope.values)})"
        )
    prefix = secrets.token_hex(6)
    raw = f"cdp_{prefix}_{secrets.token_urlsafe(30)}"
    key = ApiKey.objects.create(
        name=name,
        prefix=prefix,
        key_hash=_hash(raw),
        scopes=sorted(set(scopes)),
        rate=rate,
        created_by=created_by,
    )
    audit_record(
        actor=actor, action="api_key.create", object_type="api_key", object_id=str(key.pk),
        details={"name": name, "scopes": key.scopes},
    )
    return key, raw


def api_key_authenticate(raw: str) -> ApiKey | None:
    """The active key matching `raw`, or None; records when it was last used."""
    parts = raw.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != "cdp":
        return None
    key = ApiKey.objects.filter(prefix=parts[1], revoked_at__isnull=True).first()
    if key is None or not hmac.compare_digest(key.key_hash, _hash(raw.strip())):
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > _TOUCH_EVERY:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


def api_key_revoke(*, key: ApiKey, actor: str) -> None:
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    audit_record(
        actor=actor, action="api_key.revoke", object_type="api_key", object_id=str(key.pk)
    )
