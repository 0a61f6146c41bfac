"""The sidebar, built per request from the user's model permissions (cdp.roles), so each
role sees only its own work: a marketer never sees a link to a DPO page."""

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from cdp.roles import Role, has_role


def _can(permission: str | Role) -> Callable[[HttpRequest], bool]:
    """A model permission ("app.view_model"), or a role for pages that are a role's own."""
    def check(request: HttpRequest) -> bool:
        if isinstance(permission, Role):
            return has_role(request.user, permission)
        return request.user.is_active and request.user.has_perm(permission)
    return check


def _item(title: Any, icon: str, url_name: str, permission: str | Role,
          args: tuple = ()) -> dict[str, Any] | None:
    try:
        link = reverse(url_name, args=args)
    except NoReverseMatch:  # a page another part of the UI has not registered
        return None
    return {"title": title, "icon": icon, "link": link, "permission": _can(permission)}


def _changelist(title: Any, icon: str, label: str) -> dict[str, Any] | None:
    app_label, model = label.split(".")
    return _item(title, icon, f"admin:{app_label}_{model}_changelist",
                 f"{app_label}.view_{model}")


# (section title, [(title, icon, "app_label.model" | (url name, permission or role))])
SECTIONS: list[tuple[Any, list[tuple[Any, str, Any]]]] = [
    (_("Marketing"), [
        (_("Segments"), "groups", "segments.segment"),
        (_("Predictive models"), "model_training", "segments.segmentmodel"),
        (_("Audience syncs"), "sync", "connectors.audiencesync"),
        (_("Sync runs"), "history", "connectors.syncrun"),
        (_("Destinations"), "send", "connectors.destination"),
    ]),
    (_("Identity"), [
        (_("Review queue"), "rule", "identity.matchreview"),
        (_("Profiles"), "person", "cdp.profile"),
        (_("Source records"), "description", "cdp.sourcerecord"),
        (_("Identity events"), "merge", "identity.identityevent"),
        (_("Identity models"), "hub", "identity.identitymodel"),
        (_("Flagged identifiers"), "flag", "identity.identifierflag"),
    ]),
    (_("Privacy"), [
        (_("Find a person"), "person_search", ("cdp_ui:subject_search", Role.DPO)),
        (_("Consent ledger"), "verified_user", "cdp.consententry"),
        (_("Audit log"), "receipt_long", "cdp.auditevent"),
        (_("Subject requests"), "gavel", "cdp.subjectrequest"),
        (_("Erasure deliveries"), "delete_sweep", "connectors.erasuredelivery"),
        (_("Purposes"), "checklist", "cdp.purpose"),
        (_("Retention"), "auto_delete", ("cdp_ui:retention", Role.DPO)),
    ]),
    (_("Administration"), [
        (_("Sources"), "database", "cdp.source"),
        (_("Events"), "bolt", "cdp.event"),
        (_("API keys"), "key", "cdp.apikey"),
        (_("Users"), "manage_accounts", "auth.user"),
        (_("Groups"), "group_work", "auth.group"),
        (_("Scheduled tasks"), "schedule", "django_celery_beat.periodictask"),
    ]),
]


def sidebar(request: HttpRequest) -> list[dict[str, Any]]:
    """Unfold's SIDEBAR navigation: sections with only the links this user may open."""
    navigation = [{"title": _("Home"), "items": [
        {"title": _("Dashboard"), "icon": "dashboard", "link": reverse("admin:index")}]}]
    for title, entries in SECTIONS:
        items = []
        for entry_title, icon, target in entries:
            if isinstance(target, tuple):
                item = _item(entry_title, icon, target[0], target[1])
            else:
                item = _changelist(entry_title, icon, target)
            if item and item["permission"](request):
                items.append(item)
        if items:
            navigation.append({"title": title, "separator": True, "collapsible": False,
                               "items": items})
    return navigation
