"""Admin of identity: the review queue (stewards decide on a pair's own page), models with
their parameters and decisions as charts, identity events. Pages live in identity.ui;
decisions go through identity.services."""

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseBase
from django.urls import path
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from cdp.admin import ReadOnlyAdmin
from identity.models import IdentifierFlag, IdentityEvent, IdentityModel, MatchReview
from identity.services import AlreadyDecided, review_decide
from identity.ui.model import model_page
from identity.ui.views import actor_of, is_steward, review_decide_view, review_pair_view


class ReviewStatusFilter(admin.SimpleListFilter):
    """Pending pairs unless asked otherwise: the queue is what is left to decide."""

    title = _("status")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [*MatchReview.Status.choices, ("all", _("All"))]

    def choices(self, changelist: Any) -> Any:
        for lookup, title in self.lookup_choices:
            yield {"selected": (self.value() or MatchReview.Status.PENDING) == lookup,
                   "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                   "display": title}

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value() or MatchReview.Status.PENDING
        return queryset if value == "all" else queryset.filter(status=value)


@admin.register(MatchReview)
class MatchReviewAdmin(ReadOnlyAdmin):
    """Pairs between the review and link thresholds. The list shows no personal value;
    a pair's page shows both records (masked for stewards, audited) and the decision."""

    list_display = ["pair", "probability_", "sources", "status_", "model_", "created_",
                    "decided_by_"]
    list_display_links = ["pair"]
    list_filter = [ReviewStatusFilter, "model_version"]
    list_select_related = ["record_a__source", "record_b__source"]
    ordering = ["-probability", "pk"]
    actions = ["same_person", "different_people"]

    def has_steward_permission(self, request: HttpRequest) -> bool:
        return is_steward(request.user)

    def get_urls(self) -> list[Any]:
        def decide(request: HttpRequest, object_id: str) -> HttpResponseBase:
            return review_decide_view(self, request, object_id)

        return [path("<path:object_id>/decide/", self.admin_site.admin_view(decide),
                     name="identity_matchreview_decide"), *super().get_urls()]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponseBase:
        return review_pair_view(self, request, object_id)

    @admin.display(description=_("pair"))
    def pair(self, obj: MatchReview) -> str:
        return f"#{obj.record_a_id} — #{obj.record_b_id}"

    @admin.display(description=_("probability"), ordering="probability")
    def probability_(self, obj: MatchReview) -> str:
        percent = round(obj.probability * 100)
        return format_html(
            '<span style="display:inline-block;width:80px;height:8px;border-radius:4px;'
            'background:#e5e7eb;vertical-align:middle;margin-right:6px">'
            '<span style="display:block;width:{}%;height:8px;border-radius:4px;'
            'background:#2563eb"></span></span>{} %', percent, percent)

    @admin.display(description=_("sources"))
    def sources(self, obj: MatchReview) -> str:
        return f"{obj.record_a.source.name} / {obj.record_b.source.name}"

    @admin.display(description=_("status"), ordering="status")
    def status_(self, obj: MatchReview) -> str:
        return obj.get_status_display()

    @admin.display(description=_("model"), ordering="model_version")
    def model_(self, obj: MatchReview) -> str:
        return f"v{obj.model_version}" if obj.model_version else "—"

    @admin.display(description=_("queued at"), ordering="created_at")
    def created_(self, obj: MatchReview) -> Any:
        return obj.created_at

    @admin.display(description=_("decided by"), ordering="decided_by")
    def decided_by_(self, obj: MatchReview) -> str:
        return obj.decided_by or "—"

    def _decide(self, request: HttpRequest, queryset: Any, same: bool) -> None:
        if not is_steward(request.user):
            raise PermissionDenied
        done = 0
        for review in queryset:
            try:
                review_decide(review=review, same_person=same, actor=actor_of(request))
                done += 1
            except AlreadyDecided:
                continue
        self.message_user(request, _("%(count)d pair(s) decided") % {"count": done},
                          messages.SUCCESS)

    @admin.action(description=_("Same person (merge)"), permissions=["steward"])
    def same_person(self, request: HttpRequest, queryset: Any) -> None:
        self._decide(request, queryset, True)

    @admin.action(description=_("Different people (never link)"), permissions=["steward"])
    def different_people(self, request: HttpRequest, queryset: Any) -> None:
        self._decide(request, queryset, False)


@admin.register(IdentityModel)
class IdentityModelAdmin(ReadOnlyAdmin):
    """A trained model: its parameters and the decisions it made, as charts drawn from
    its JSON (Splink's saved HTML charts load their library from the internet)."""

    list_display = ["version", "trained_at", "record_count", "active"]
    fields = ["version", "trained_at", "record_count", "active", "prior_", "report_"]
    readonly_fields = fields
    change_form_outer_after_template = "identity/model_charts.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).defer("charts")

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponseBase:
        model = self.get_object(request, object_id)
        if model is not None and self.has_view_permission(request, model):
            extra_context = {**(extra_context or {}), "model_page": model_page(model)}
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description=_("prior (two random records match)"))
    def prior_(self, obj: IdentityModel) -> str:
        prior = (obj.splink_model or {}).get("probability_two_random_records_match")
        return f"{prior:.2e}" if prior else "—"

    @admin.display(description=_("training report (seconds per step)"))
    def report_(self, obj: IdentityModel) -> str:
        rows = format_html_join("", "<tr><td style='padding-right:1em'>{}</td><td>{}</td></tr>",
                                sorted((obj.report or {}).items()))
        return format_html("<table>{}</table>", rows) if obj.report else "—"


@admin.register(IdentityEvent)
class IdentityEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "kind", "profile_id", "other_profile_id", "rule", "score", "actor"]
    list_filter = ["kind", "rule"]
    search_fields = ["profile_id", "other_profile_id"]


@admin.register(IdentifierFlag)
class IdentifierFlagAdmin(ReadOnlyAdmin):
    list_display = ["kind", "record_count", "flagged_at"]
