"""What identity adds to the profile's admin page (mixed into cdp's ProfileAdmin): the
golden record, records, graph and events around the standard form, and the unmerge page."""

from typing import Any

from django.contrib.admin.utils import unquote
from django.http import HttpRequest, HttpResponseBase, HttpResponseRedirect
from django.urls import path, reverse

from cdp.roles import user_sees_personal_data
from identity.models import ProfileRedirect
from identity.ui.profile import profile_identity
from identity.ui.views import actor_of, is_steward, unmerge_view


class ProfileIdentityMixin:
    change_form_outer_before_template = "identity/profile_identity.html"
    change_form_outer_after_template = "identity/profile_events.html"

    def get_urls(self) -> list[Any]:
        def unmerge(request: HttpRequest, object_id: str, record_id: int) -> HttpResponseBase:
            return unmerge_view(self, request, object_id, record_id)

        return [path("<path:object_id>/unmerge/<int:record_id>/",
                     self.admin_site.admin_view(unmerge), name="cdp_profile_unmerge"),
                *super().get_urls()]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponseBase:
        profile = self.get_object(request, unquote(object_id))
        if profile is None:
            # A merged-away id: follow it to the profile that took its records.
            moved = ProfileRedirect.objects.filter(old_id=_uuid_or_none(object_id)).first()
            if moved is not None:
                return HttpResponseRedirect(reverse("admin:cdp_profile_change",
                                                    args=[moved.new_id]))
        elif request.method == "GET" and self.has_view_permission(request, profile):
            extra_context = {**(extra_context or {}), "identity": profile_identity(
                profile=profile, actor=actor_of(request),
                masked=not user_sees_personal_data(request.user)),
                "can_unmerge": is_steward(request.user)}
        return super().change_view(request, object_id, form_url, extra_context)


def _uuid_or_none(text: str) -> Any:
    import uuid

    try:
        return uuid.UUID(unquote(text))
    except ValueError:
        return None
