"""Admin of identity: the review queue (stewards decide), models with their training
charts, identity events per profile. Decisions go through identity.services."""

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from cdp.admin import ReadOnlyAdmin
from cdp.roles import Role, has_role
from identity.models import IdentifierFlag, IdentityEvent, IdentityModel, MatchReview
from identity.services import AlreadyDecided, review_decide


def _actor(request: HttpRequest) -> str:
    return f"user:{request.user.get_username()}"


def is_steward(user: Any) -> bool:
    return user.is_active and has_role(user, Role.STEWARD)


@admin.register(MatchReview)
class MatchReviewAdmin(ReadOnlyAdmin):
    """Pairs between the review and link thresholds, with each comparison's level and
    weight (no personal values: open the records to see them, which is audited)."""

    list_display = ["id", "probability", "record_a", "record_b", "status", "model_version",
                    "created_at", "decided_by"]
    list_filter = ["status", "model_version"]
    ordering = ["status", "-probability"]
    readonly_fields = ["waterfall"]
    actions = ["same_person", "different_people"]

    def has_steward_permission(self, request: HttpRequest) -> bool:
        return is_steward(request.user)

    @admin.display(description="explanation (match weight per comparison)")
    def waterfall(self, obj: MatchReview) -> str:
        rows = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td style='text-align:right'>{}</td></tr>",
            ((s["comparison"], s["level"], s["weight"]) for s in obj.explanation))
        return format_html("<table><tr><th>comparison</th><th>level</th><th>weight</th></tr>"
                           "{}</table>", rows)

    def _decide(self, request: HttpRequest, queryset: Any, same: bool) -> None:
        if not is_steward(request.user):
            raise PermissionDenied
        done = 0
        for review in queryset:
            try:
                review_decide(review=review, same_person=same, actor=_actor(request))
                done += 1
            except AlreadyDecided:
                continue
        self.message_user(request, f"{done} pair(s) decided", messages.SUCCESS)

    @admin.action(description="Same person (merge)", permissions=["steward"])
    def same_person(self, request: HttpRequest, queryset: Any) -> None:
        self._decide(request, queryset, True)

    @admin.action(description="Different people (never link)", permissions=["steward"])
    def different_people(self, request: HttpRequest, queryset: Any) -> None:
        self._decide(request, queryset, False)


@admin.register(IdentityModel)
class IdentityModelAdmin(ReadOnlyAdmin):
    list_display = ["version", "trained_at", "record_count", "active"]
    readonly_fields = ["version", "trained_at", "record_count", "active", "report",
                       "training_charts"]
    exclude = ["splink_model", "charts"]

    @admin.display(description="training charts")
    def training_charts(self, obj: IdentityModel) -> str:
        # The charts are self-contained HTML written by Splink from the model's own
        # parameters (no personal data); shown in sandboxed frames.
        return mark_safe("".join(  # noqa: S308
            format_html("<h3>{}</h3><iframe sandbox='allow-scripts' srcdoc='{}' "
                        "style='width:100%;height:520px;border:0'></iframe>", name, html)
            for name, html in obj.charts.items()))


@admin.register(IdentityEvent)
class IdentityEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "kind", "profile_id", "other_profile_id", "rule", "score", "actor"]
    list_filter = ["kind", "rule"]
    search_fields = ["profile_id", "other_profile_id"]


@admin.register(IdentifierFlag)
class IdentifierFlagAdmin(ReadOnlyAdmin):
    list_display = ["kind", "record_count", "flagged_at"]
