"""Who may do what: the roles as data (groups and the model permissions each holds), the
questions asked about a user's roles, and the audit row of a refused access.

Roles are Django groups kept in step with ROLES after every migrate (a post_migrate
receiver), so the permissions of apps added later (identity, connectors) are granted
without a migration. A group's permissions are set to exactly what ROLES says: change
them here, not in the admin. API key scopes mirror the roles (cdp.models.ApiKey.Scope).
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.apps import apps as global_apps
from django.db import DEFAULT_DB_ALIAS, router
from django.db.models import Q

from cdp.audit import audit_record


class Role(StrEnum):
    MARKETER = "marketer"
    STEWARD = "data_steward"
    DPO = "dpo"
    ADMIN = "admin"


VIEW = ("view",)
EDIT = ("add", "change", "view")


@dataclass(frozen=True)
class RoleSpec:
    """The permissions of one group: every permission of whole apps (present and future
    models), plus some actions on named models ("app_label.model": actions)."""

    apps: tuple[str, ...] = ()
    models: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    everything: bool = False

    def permission_filter(self) -> Q | None:
        """The Permission rows of this role; None when it holds none."""
        if self.everything:
            return Q()
        parts = [Q(content_type__app_label__in=self.apps)] if self.apps else []
        for label, actions in self.models.items():
            app_label, model = label.split(".")
            parts.append(Q(content_type__app_label=app_label, content_type__model=model,
                           codename__in=[f"{action}_{model}" for action in actions]))
        if not parts:
            return None
        combined = parts[0]
        for part in parts[1:]:
            combined |= part
        return combined


ROLES: dict[Role, RoleSpec] = {
    # Builds segments and syncs; sees people only masked (cdp.privacy.masking), exports
    # no personal data, reads no consent evidence nor audit log.
    # Destinations (vendor accounts, credentials) are set up by admins; marketers point
    # syncs at them. Erasure deliveries are the DPO's.
    Role.MARKETER: RoleSpec(
        apps=("segments",),
        models={"cdp.profile": VIEW, "cdp.sourcerecord": VIEW, "cdp.event": VIEW,
                "cdp.source": VIEW, "cdp.purpose": VIEW,
                "connectors.audiencesync": EDIT, "connectors.syncrun": VIEW,
                "connectors.destination": VIEW},
    ),
    # Reviews identity matches and unmerges; sees records masked like the marketer.
    Role.STEWARD: RoleSpec(
        apps=("identity",),
        models={"cdp.profile": VIEW, "cdp.sourcerecord": VIEW, "cdp.source": VIEW},
    ),
    # Consent proofs, audit log, subject requests (access, erasure, restriction); sees
    # personal data in clear, every read audited.
    Role.DPO: RoleSpec(
        models={"cdp.consententry": VIEW, "cdp.purpose": EDIT, "cdp.auditevent": VIEW,
                "cdp.subjectrequest": VIEW, "cdp.profile": VIEW, "cdp.sourcerecord": VIEW,
                "cdp.event": VIEW, "cdp.source": VIEW, "connectors.erasuredelivery": VIEW,
                "connectors.destination": VIEW},
    ),
    Role.ADMIN: RoleSpec(everything=True),
}
# Roles that read personal data in clear; the others see it masked.
CLEAR_ROLES = frozenset({Role.DPO, Role.ADMIN})
# API key scopes that read personal data in clear ("admin" holds every scope).
CLEAR_SCOPES = ("read", "dpo")


def roles_sync(*, apps: Any = global_apps, using: str = DEFAULT_DB_ALIAS) -> None:
    """Create the role groups and set each one's permissions to what ROLES says.
    Idempotent; `apps` is the migration state when called from post_migrate."""
    group_model = apps.get_model("auth", "Group")
    permissions = apps.get_model("auth", "Permission").objects.using(using)
    for role, spec in ROLES.items():
        group, _ = group_model.objects.using(using).get_or_create(name=role.value)
        wanted = spec.permission_filter()
        group.permissions.set(permissions.filter(wanted) if wanted is not None else [])


def roles_sync_receiver(
    sender: Any, *, apps: Any = global_apps, using: str = DEFAULT_DB_ALIAS, **kwargs: Any
) -> None:
    """post_migrate, sent once per app after its permissions exist: sync every time, so
    the last call sees the permissions of every app."""
    try:
        group_model = apps.get_model("auth", "Group")
        apps.get_model("contenttypes", "ContentType")
    except LookupError:  # auth or contenttypes not (or no longer) migrated
        return
    if router.allow_migrate_model(using, group_model):
        roles_sync(apps=apps, using=using)


def user_role_names(user: Any) -> frozenset[str]:
    """The roles of a user: the role groups they belong to, and admin for superusers.
    Cached on the user object, as Django caches permissions (one query per request)."""
    if not getattr(user, "is_active", False):
        return frozenset()
    cached = getattr(user, "_cdp_role_names", None)
    if cached is None:
        names = set(user.groups.filter(name__in=[r.value for r in Role])
                    .values_list("name", flat=True))
        if user.is_superuser:
            names.add(Role.ADMIN.value)
        cached = user._cdp_role_names = frozenset(names)
    return cached


def has_role(user: Any, role: Role | str) -> bool:
    """Whether the user holds `role`; admin holds every role (as the admin scope does)."""
    names = user_role_names(user)
    return str(role) in names or Role.ADMIN.value in names


def user_sees_personal_data(user: Any) -> bool:
    """DPO and admin read personal data in clear; everyone else (marketer, steward, staff
    without a role) sees it masked."""
    return any(has_role(user, role) for role in CLEAR_ROLES)


def api_key_sees_personal_data(key: Any) -> bool:
    """The API twin of user_sees_personal_data: read and dpo keys (and admin) see clear
    values; marketer and steward keys see them masked."""
    return any(key.has_scope(scope) for scope in CLEAR_SCOPES)


def access_denied_record(
    *, actor: str, channel: str, attempted: str, profile_id: uuid.UUID | None = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Audit a refused attempt to read, export or act on personal data: who tried what,
    on whom (when known). channel is "api" or "admin"; attempted names the endpoint or
    admin action."""
    audit_record(
        actor=actor, action="access.denied", object_type=channel, object_id=attempted[:64],
        profile_id=profile_id, details=dict(details or {}),
    )
