"""Admin of the segments app."""

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from unfold.admin import ModelAdmin, TabularInline

from cdp.admin import ReadOnlyAdmin
from segments.models import ProfileTraits, Segment, SegmentRun


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
    """Validates the rule tree and schedule through the same service as the API."""

    class Meta:
        model = Segment
        fields = ["name", "slug", "description", "definition", "schedule", "enabled"]

    def clean(self) -> dict[str, Any]:
        from segments.ml.registry import segment_model_resolve
        from segments.rules import validate_definition
        from segments.services import segment_resolve

        data = super().clean()
        if "definition" in data:
            errors = validate_definition(data["definition"], resolve_segment=segment_resolve,
                                         self_slug=data.get("slug"),
                                         resolve_model=segment_model_resolve)
            for error in errors:
                self.add_error("definition", f"{error.path}: {error.message}")
        return data


class SegmentRunInline(TabularInline):
    model = SegmentRun
    fields = ["started_at", "status", "trigger", "size", "added", "removed", "jaccard",
              "warnings", "error", "duration_ms"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    ordering = ["-started_at"]


@admin.register(Segment)
class SegmentAdmin(ModelAdmin):
    form = SegmentForm
    list_display = ["name", "slug", "size", "last_success_at", "schedule", "enabled"]
    search_fields = ["name", "slug"]
    readonly_fields = ["size", "last_success_at", "event_types"]
    inlines = [SegmentRunInline]
    actions = ["evaluate_now"]

    def save_model(self, request: HttpRequest, obj: Segment, form: Any, change: bool) -> None:
        from segments.services import segment_save

        data = form.cleaned_data
        saved = segment_save(
            actor=f"user:{request.user.get_username()}", segment=obj if change else None,
            name=data["name"], slug=data["slug"], description=data.get("description", ""),
            definition=data["definition"], schedule=data.get("schedule", ""),
            enabled=data.get("enabled", True),
        )
        obj.pk = saved.pk

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # depends_on is derived from the definition by segment_save, not edited here.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    @admin.action(description="Evaluate now")
    def evaluate_now(self, request: HttpRequest, queryset: Any) -> None:
        from segments.tasks import segment_evaluate_task

        for segment in queryset:
            segment_evaluate_task.delay(segment.pk, SegmentRun.Trigger.MANUAL)
        self.message_user(request, f"{queryset.count()} segment(s) queued for evaluation")


# Model-based segments register their own admin classes (models, versions).
import segments.ml.admin  # noqa: E402, F401
