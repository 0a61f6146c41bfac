"""Form widgets of the segment builder: the rule tree editor and the schedule picker.

Both keep a plain input as the submitted value (the definition's JSON text, the cron
expression), which the page's JavaScript writes; without JavaScript they still work.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from segments.models import Segment

SCHEDULE_PRESETS: tuple[tuple[str, Any], ...] = (
    ("", _("Manually only")),
    ("*/15 * * * *", _("Every 15 minutes")),
    ("0 * * * *", _("Every hour")),
    ("0 6 * * *", _("Every day at 6:00")),
    ("0 6 * * 1", _("Every Monday at 6:00")),
)


def schedule_label(schedule: str) -> str:
    """The name of a common schedule, else the cron expression itself."""
    return str(dict(SCHEDULE_PRESETS).get(schedule, schedule))


class RuleBuilderWidget(forms.Textarea):
    """The definition as a tree of pickers; the JSON text stays in a textarea (shown in
    the JSON view) that is what the form submits."""

    template_name = "segments/builder/widget.html"

    class Media:
        css = {"all": ["segments/builder.css"]}
        js = ["segments/builder.js"]

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs={"rows": 16, "spellcheck": "false", **(attrs or {})})
        # Set per form by SegmentForm: the segment edited and the problems found.
        self.segment: Segment | None = None
        self.rule_errors: list[dict[str, str]] = []

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        from segments.rules import rule_schema
        from segments.ui.builder import builder_vocabulary

        context = super().get_context(name, value, attrs)
        widget_id = context["widget"]["attrs"].get("id") or f"id_{name}"
        context.update({
            "schema": rule_schema(),
            "schema_id": f"{widget_id}-schema",
            "vocabulary": builder_vocabulary(segment=self.segment),
            "vocabulary_id": f"{widget_id}-vocabulary",
            "preview_url": reverse("admin:segments_segment_builder_preview"),
            "rule_errors": json.dumps(self.rule_errors),
            "self_slug": self.segment.slug if self.segment else "",
        })
        return context


class SchedulePickerWidget(forms.TextInput):
    """Common schedules by name; any other cron expression in the text input."""

    template_name = "segments/builder/schedule.html"

    class Media:
        css = {"all": ["segments/builder.css"]}
        js = ["segments/builder.js"]

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        current = value or ""
        presets = [(cron, str(label)) for cron, label in SCHEDULE_PRESETS]
        context["presets"] = presets
        context["custom"] = current not in {cron for cron, _label in presets}
        context["current"] = current
        return context
