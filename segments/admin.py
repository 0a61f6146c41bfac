"""Admin of the segments app: the segment builder and the segment page.

The change view is the segment page: an overview (size over time, runs, guard warnings,
members, "Evaluate now") above the builder form, and the audiences it feeds below. Views
validate, call one service and render; the logic is in segments.ui and segments.services.
"""

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from unfold.admin import ModelAdmin
from unfold.widgets import UnfoldAdminTextareaWidget

from cdp.admin import ReadOnlyAdmin
from cdp.roles import access_denied_record
from segments.models import ProfileTraits, Segment, SegmentRun
from segments.ui.widgets import RuleBuilderWidget, SchedulePickerWidget, schedule_label

# A preview request carries one definition: far below this.
MAX_PREVIEW_BYTES = 256 * 1024


def _actor(request: HttpRequest) -> str:
    return f"user:{request.user.get_username()}"


@admin.register(ProfileTraits)
class ProfileTraitsAdmin(ReadOnlyAdmin):
    """Read-only: traits are derived from events and rewritten by every refresh."""

    list_display = [
        "profile", "purchase_count", "revenue_total", "last_purchase_at", "rfm_score",
        "computed_at",
    ]
    search_fields = ["profile__id"]
    # The table has a row per active profile: skip the unfiltered COUNT(*) on every page.
    show_full_result_count = False


class SegmentForm(forms.ModelForm):
    """Validates the rule tree and schedule through the same checks as the API; rule
    problems also go to the builder, which shows each next to its condition."""

    class Meta:
        model = Segment
        fields = ["name", "slug", "description", "definition", "schedule", "enabled"]
        widgets = {"definition": RuleBuilderWidget, "schedule": SchedulePickerWidget,
                   "description": UnfoldAdminTextareaWidget(attrs={"rows": 2})}
        labels = {
            "name": gettext_lazy("Name"), "slug": gettext_lazy("Identifier"),
            "description": gettext_lazy("Description"), "enabled": gettext_lazy("Enabled"),
            "definition": gettext_lazy("Who is in it"), "schedule": gettext_lazy("Evaluated"),
        }
        help_texts = {
            "slug": gettext_lazy("How the API and other segments name it."),
            "schedule": gettext_lazy("When the segment is evaluated again (Europe/Paris). "
                                     "It is also updated as events arrive."),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "definition" in self.fields:
            self.fields["definition"].widget.segment = self.instance if self.instance.pk \
                else None
            if not self.instance.pk and not self.is_bound:
                self.initial.setdefault("definition", {"all": []})

    def clean(self) -> dict[str, Any]:
        from cdp.schedules import cron_error
        from segments.ui.builder import definition_errors

        data = super().clean()
        if "definition" in data:
            errors = definition_errors(data["definition"], self_slug=data.get("slug"))
            self.fields["definition"].widget.rule_errors = [
                {"path": e.path, "message": e.message} for e in errors]
            if errors:
                self.add_error("definition", ngettext(
                    "%(n)d problem in the rules: see the message next to the condition.",
                    "%(n)d problems in the rules: see the messages next to the conditions.",
                    len(errors)) % {"n": len(errors)})
        schedule_problem = cron_error(data.get("schedule") or "")
        if schedule_problem:
            self.add_error("schedule", schedule_problem)
        return data


@admin.register(Segment)
class SegmentAdmin(ModelAdmin):
    form = SegmentForm
    list_display = ["name", "slug", "size", "last_success_at", "schedule_label", "enabled"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ("name",)}
    actions = ["evaluate_now"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "description", "enabled"]}),
        (gettext_lazy("Rules"), {"fields": ["definition"]}),
        (gettext_lazy("Schedule"), {"fields": ["schedule"]}),
    ]
    change_form_outer_before_template = "segments/page/overview.html"
    change_form_after_template = "segments/page/audiences.html"

    @admin.display(description=gettext_lazy("Evaluated"), ordering="schedule")
    def schedule_label(self, segment: Segment) -> str:
        return schedule_label(segment.schedule)

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("builder/preview/", wrap(self.builder_preview_view),
                 name="segments_segment_builder_preview"),
            path("<int:object_id>/evaluate/", wrap(self.evaluate_view),
                 name="segments_segment_evaluate"),
            *super().get_urls(),
        ]

    def render_change_form(self, request: HttpRequest, context: dict[str, Any],
                           add: bool = False, change: bool = False, form_url: str = "",
                           obj: Segment | None = None) -> HttpResponse:
        from segments.ui.page import segment_audiences, segment_page

        if obj is not None and obj.pk:
            context["segment_page"] = segment_page(obj)
            context["audiences"] = segment_audiences(obj)
            context["can_evaluate"] = self.has_change_permission(request, obj)
        context["can_add_audience"] = request.user.has_perm("connectors.add_audiencesync")
        return super().render_change_form(request, context, add=add, change=change,
                                          form_url=form_url, obj=obj)

    def save_model(self, request: HttpRequest, obj: Segment, form: Any, change: bool) -> None:
        from segments.services import segment_save

        data = form.cleaned_data
        saved = segment_save(
            actor=_actor(request), segment=obj if change else None,
            name=data["name"], slug=data["slug"], description=data.get("description", ""),
            definition=data["definition"], schedule=data.get("schedule", ""),
            enabled=data.get("enabled", True),
        )
        obj.pk = saved.pk

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # depends_on is derived from the definition by segment_save, not edited here.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def builder_preview_view(self, request: HttpRequest) -> JsonResponse:
        """The builder's live preview: size and masked sample, or errors by JSON path."""
        from segments.ui.builder import builder_preview

        if request.method != "POST":
            return JsonResponse({"detail": "POST a definition"}, status=405)
        if not (self.has_add_permission(request) or self.has_change_permission(request)):
            # The sample is about people (masked): a refusal is audited like the API's.
            with transaction.atomic():
                access_denied_record(actor=_actor(request), channel="admin",
                                     attempted="segments.preview")
            raise PermissionDenied
        if len(request.body) > MAX_PREVIEW_BYTES:
            return JsonResponse({"detail": "too large"}, status=413)
        try:
            body = json.loads(request.body)
        except ValueError:
            return JsonResponse({"detail": "not JSON"}, status=400)
        if not isinstance(body, dict) or "definition" not in body:
            return JsonResponse({"detail": "definition is required"}, status=400)
        slug = body.get("slug") if isinstance(body.get("slug"), str) else None
        return JsonResponse(builder_preview(definition=body["definition"],
                                            actor=_actor(request), self_slug=slug))

    @staticmethod
    def _evaluate(segment_ids: list[int]) -> None:
        from segments.tasks import segment_evaluate_task

        for segment_id in segment_ids:
            segment_evaluate_task.delay(segment_id, SegmentRun.Trigger.MANUAL)

    def evaluate_view(self, request: HttpRequest, object_id: int) -> HttpResponseRedirect:
        """The segment page's "Evaluate now": queue a full run, back to the page."""
        segment = get_object_or_404(Segment, pk=object_id)
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:segments_segment_change",
                                                args=[segment.pk]))
        if not self.has_change_permission(request, segment):
            raise PermissionDenied
        self._evaluate([segment.pk])
        self.message_user(request, _("Evaluation of “%(name)s” started.")
                          % {"name": segment.name}, messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:segments_segment_change", args=[segment.pk]))

    @admin.action(description=gettext_lazy("Evaluate now"), permissions=["change"])
    def evaluate_now(self, request: HttpRequest, queryset: Any) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        self._evaluate(ids)
        self.message_user(request, ngettext("%(n)d segment queued for evaluation",
                                            "%(n)d segments queued for evaluation",
                                            len(ids)) % {"n": len(ids)})


# Model-based segments register their own admin classes (models, versions).
import segments.ml.admin  # noqa: E402, F401
