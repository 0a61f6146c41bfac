"""Admin pieces of the consent ledger and restriction: the confirmation page of the
restriction actions and the DPO's consent export. Thin: they call the services."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.template.response import TemplateResponse

from cdp.models import Profile
from cdp.services.consent_export import consents_export
from cdp.services.restriction import profile_restrict, profile_unrestrict


class RestrictionForm(forms.Form):
    reason = forms.CharField(
        max_length=300, widget=forms.TextInput(attrs={"size": 80}),
        help_text="Kept in the audit log, e.g. the request reference and its ground.",
    )


def restriction_action(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Profile], *,
    actor: str, lift: bool,
) -> TemplateResponse | None:
    """First call: a confirmation page asking why. Second (with "apply"): do it."""
    form = RestrictionForm(request.POST if "apply" in request.POST else None)
    if form.is_bound and form.is_valid():
        change = profile_unrestrict if lift else profile_restrict
        changed = sum(
            change(profile=profile, actor=actor, reason=form.cleaned_data["reason"])
            for profile in queryset
        )
        verb = "lifted the restriction of" if lift else "restricted"
        modeladmin.message_user(request, f"{verb} {changed} profile(s)", messages.SUCCESS)
        return None
    title = "Lift restriction" if lift else "Restrict processing"
    explanation = (
        "These profiles will be used again: segments take them back at once."
        if lift else
        "The data is kept, but these profiles leave every segment and destination and are "
        "used for nothing until the restriction is lifted (GDPR Art. 18)."
    )
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title, "explanation": explanation, "form": form,
        "profiles": list(queryset), "opts": modeladmin.model._meta,
        "action": "lift_restriction" if lift else "restrict_processing",
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/cdp/profile/restriction_confirm.html", context)


def consent_export_response(
    request: HttpRequest, queryset: QuerySet, *, actor: str, fmt: str
) -> StreamingHttpResponse:
    """The selected entries as a streamed file; the export is audited."""
    export = consents_export(entries=queryset, fmt=fmt, actor=actor, via="admin")
    response = StreamingHttpResponse(export, content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="consents.{fmt}"'
    return response
