"""Receivers auditing logins and failed logins (connected in CdpConfig.ready)."""

from typing import Any

from django.contrib.auth import get_user_model
from django.http import HttpRequest

from cdp.audit import audit_record
from cdp.privacy.crypto import keyed_hash


def audit_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    audit_record(
        actor=f"user:{user.get_username()}", action="auth.login",
        object_type="user", object_id=str(user.pk),
    )


def audit_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """Never the password; the attempted username (often an email) only as a keyed hash,
    enough to see repeated attempts on one account."""
    username = credentials.get(get_user_model().USERNAME_FIELD) or credentials.get("username")
    audit_record(
        actor="anonymous", action="auth.login_failed", object_type="user",
        details={"username_hash": keyed_hash(str(username)) if username else ""},
    )
