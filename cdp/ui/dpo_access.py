"""Who may open the DPO pages: the DPO and admins. Anyone else gets 403, and the refusal
is audited as cdp.roles audits every refused access to personal data."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase
from django.template.response import TemplateResponse

from cdp.roles import Role, access_denied_record, has_role, user_role_names

View = Callable[..., HttpResponseBase]


def actor_of(request: HttpRequest) -> str:
    """The audit log's name for the person behind a request."""
    return f"user:{request.user.get_username()}"


def dpo_refusal_record(request: HttpRequest, *, profile_id: Any = None) -> None:
    """Audit a refused DPO page: who, which page, about whom (when the URL names one)."""
    match = request.resolver_match
    access_denied_record(
        actor=actor_of(request), channel="admin",
        attempted=f"cdp_ui:{match.url_name if match else request.path}",
        profile_id=profile_id,
        details={"method": request.method, "path": request.path,
                 "roles": sorted(user_role_names(request.user))},
    )


def dpo_view(view: View) -> View:
    """Staff login (the admin's own), then the DPO role; the view is the admin's too
    (CSRF-protected, never cached)."""
    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not has_role(request.user, Role.DPO):
            dpo_refusal_record(request, profile_id=kwargs.get("profile_id"))
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return admin.site.admin_view(guarded)


def dpo_page(request: HttpRequest, template: str, title: str, **context: Any) -> TemplateResponse:
    """A DPO page in the admin's layout (sidebar, header, messages)."""
    return TemplateResponse(request, template, {
        **admin.site.each_context(request), "title": title, **context})
