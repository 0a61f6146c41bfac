"""Admin pieces of privacy: role-guarded pages and actions whose refusals are audited,
the confirmation page of the restriction actions and the DPO's consent export. Thin: they
call the services."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponseBase,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from unfold.admin import ModelAdmin

from cdp.models import Profile
from cdp.roles import Role, access_denied_record, has_role, user_role_names
from cdp.services.audit_export import audit_export
from cdp.services.consent_export import consents_export
from cdp.services.erasure import subject_erase
from cdp.services.exporting import FORMATS
from cdp.services.restriction import profile_restrict, profile_unrestrict


def _posted_action(request: HttpRequest) -> str:
    """The admin action a POST asks for ("" when none), read as Django reads it."""
    if request.method != "POST" or "_save" in request.POST:
        return ""
    try:
        return request.POST.getlist("action")[int(request.POST.get("index", 0))]
    except (ValueError, IndexError):
        return ""


class RoleGuardedAdmin(ModelAdmin):
    """Refusals answer 403 and, on models holding personal data, leave an audit row.

    Django hides the actions a user may not run, but answers a forged POST of one with
    "No action selected"; here it is refused (403) like any other forbidden page.
    """

    holds_personal_data = False
    # Lookup from this model to the subject's profile id, named in a refusal's audit row.
    profile_lookup: str | None = None

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        with self._refusal_audited(request, view="changelist"):
            self._posted_action_allowed(request)
            return super().changelist_view(request, extra_context)

    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, form_url: str = "",
        extra_context: Any = None,
    ) -> HttpResponseBase:
        # Refused "add" pages are refused writes, not reads: not audited.
        with self._refusal_audited(request, view="change" if object_id else "",
                                   object_id=object_id):
            return super().changeform_view(request, object_id, form_url, extra_context)

    def _posted_action_allowed(self, request: HttpRequest) -> None:
        name = _posted_action(request)
        action = self.get_action(name) if name else None
        if action is None:
            return  # Django answers "No action selected"
        for permission in getattr(action[0], "allowed_permissions", ()):
            if not getattr(self, f"has_{permission}_permission")(request):
                raise PermissionDenied

    @contextmanager
    def _refusal_audited(
        self, request: HttpRequest, *, view: str, object_id: str | None = None
    ) -> Iterator[None]:
        try:
            yield
        except PermissionDenied:
            if self.holds_personal_data and view:
                self._record_refusal(request, view=view, object_id=object_id)
            raise

    def _record_refusal(self, request: HttpRequest, *, view: str, object_id: str | None) -> None:
        action = _posted_action(request)
        selected = [object_id] if object_id else request.POST.getlist(
            helpers.ACTION_CHECKBOX_NAME)
        access_denied_record(
            actor=f"user:{request.user.get_username()}", channel="admin",
            attempted=f"{self.model._meta.label_lower}:{action or view}",
            profile_id=self._subject_of(selected),
            details={"method": request.method, "path": request.path, "action": action,
                     "selected": len(selected), "roles": sorted(user_role_names(request.user))},
        )

    def _subject_of(self, ids: list[str]) -> Any:
        """The profile of a single object (or None): a refusal names whom it was about."""
        if self.profile_lookup is None or len(ids) != 1:
            return None
        try:
            return (self.model._default_manager.filter(pk=ids[0])
                    .values_list(self.profile_lookup, flat=True).first())
        except (ValueError, ValidationError):
            return None


class RestrictionForm(forms.Form):
    reason = forms.CharField(
        max_length=300, widget=forms.TextInput(attrs={"size": 80}),
        help_text="Kept in the audit log, e.g. the request reference and its ground.",
    )


def _reason_confirmed(
    modeladmin: ModelAdmin, request: HttpRequest, queryset: QuerySet[Profile], *,
    title: str, explanation: str, action: str, apply: Callable[[str], str],
) -> TemplateResponse | None:
    """First call: a confirmation page asking why. Second (with "apply"): apply(reason),
    whose return is the success message."""
    form = RestrictionForm(request.POST if "apply" in request.POST else None)
    if form.is_bound and form.is_valid():
        modeladmin.message_user(request, apply(form.cleaned_data["reason"]), messages.SUCCESS)
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title, "explanation": explanation, "form": form,
        "profiles": list(queryset), "opts": modeladmin.model._meta, "action": action,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/cdp/profile/restriction_confirm.html", context)


def restriction_action(
    modeladmin: ModelAdmin, request: HttpRequest, queryset: QuerySet[Profile], *,
    actor: str, lift: bool,
) -> TemplateResponse | None:
    """Restrict (or lift the restriction of) the selected profiles, with a reason."""
    change = profile_unrestrict if lift else profile_restrict

    def apply(reason: str) -> str:
        changed = sum(change(profile=p, actor=actor, reason=reason) for p in queryset)
        verb = "lifted the restriction of" if lift else "restricted"
        return f"{verb} {changed} profile(s)"

    return _reason_confirmed(
        modeladmin, request, queryset, apply=apply,
        title="Lift restriction" if lift else "Restrict processing",
        explanation=(
            "These profiles will be used again: segments take them back at once."
            if lift else
            "The data is kept, but these profiles leave every segment and destination and "
            "are used for nothing until the restriction is lifted (GDPR Art. 18)."
        ),
        action="lift_restriction" if lift else "restrict_processing",
    )


def erasure_action(
    modeladmin: ModelAdmin, request: HttpRequest, queryset: QuerySet[Profile], *,
    actor: str,
) -> TemplateResponse | None:
    """Erase the selected profiles (GDPR Art. 17) after a confirmation with a reason."""

    def apply(reason: str) -> str:
        result = subject_erase(profile_ids=list(queryset.values_list("pk", flat=True)),
                               identified_by="profile", actor=actor, reason=reason)
        return f"erased {len(result.profiles)} profile(s) (request #{result.request.pk})"

    return _reason_confirmed(
        modeladmin, request, queryset, apply=apply, title="Erase (GDPR Art. 17)",
        explanation=(
            "Cannot be undone. Records, events, consent entries, segment memberships and "
            "the profiles are deleted, their data keys destroyed, destinations told to "
            "delete; the identifiers stay only as blind indexes on the suppression list."
        ),
        action="erase_subjects",
    )


def consent_export_response(
    request: HttpRequest, queryset: QuerySet, *, actor: str, fmt: str
) -> StreamingHttpResponse:
    """The selected entries as a streamed file; the export is audited."""
    export = consents_export(entries=queryset, fmt=fmt, actor=actor, via="admin")
    response = StreamingHttpResponse(export, content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="consents.{fmt}"'
    return response


# Changelist parameters that change how a list is shown, not which rows it holds.
_PRESENTATION_PARAMS = frozenset(("p", "o", "e", "_facets", "_changelist_filters"))


def filtered_export_view(
    modeladmin: RoleGuardedAdmin, request: HttpRequest, fmt: str
) -> HttpResponseBase:
    """Every row of the changelist as filtered and searched now (all pages), streamed
    as CSV or JSON; the audit row names the filters. DPO and admin only (refusal audited).
    """
    with modeladmin._refusal_audited(request, view="export"):
        if not has_role(request.user, Role.DPO):
            raise PermissionDenied
    if fmt not in FORMATS:
        raise Http404
    opts = modeladmin.model._meta
    try:
        rows = modeladmin.get_changelist_instance(request).get_queryset(request)
    except IncorrectLookupParameters:
        messages.error(request, _("These filters are not valid: nothing was exported."))
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        return HttpResponseRedirect(changelist)
    filters = {k: v for k, v in request.GET.items() if k not in _PRESENTATION_PARAMS}
    if filters.get("q"):  # free text may be an address someone typed: never in the log
        filters["q"] = "(search text, not recorded)"
    described = {"filters": filters, "rows": rows.count()}
    actor = f"user:{request.user.get_username()}"
    if opts.model_name == "auditevent":
        export, name = audit_export(events=rows, fmt=fmt, actor=actor, via="admin",
                                    described=described), "audit"
    else:
        export, name = consents_export(entries=rows, fmt=fmt, actor=actor, via="admin",
                                       described=described), "consents"
    response = StreamingHttpResponse(export, content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response
