"""The DPO's subject pages: find a person by email or phone, download their archive
(GDPR Art. 15/20), restrict (Art. 18) or erase (Art. 17) them after a confirmation that
asks why. Thin: cdp.services do the work and the auditing.

The searched value travels in a POST body only, never in a URL (URLs end up in access
logs and browser history)."""

import uuid

from django.contrib import messages
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseBase,
)
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from cdp.models import Profile
from cdp.services.dsar import dsar_access
from cdp.services.erasure import subject_erase
from cdp.services.restriction import profile_restrict, profile_unrestrict
from cdp.services.subject_search import SubjectInvalid, profile_summary, subject_search
from cdp.ui.dpo_access import actor_of, dpo_page, dpo_view
from cdp.ui.dpo_forms import AccessForm, ReasonForm, RestrictionForm, SubjectSearchForm

FIELD_LABELS = {
    "first_name": gettext_lazy("First name"), "last_name": gettext_lazy("Last name"),
    "email": gettext_lazy("Email"), "phone": gettext_lazy("Phone"),
    "city": gettext_lazy("City"), "country": gettext_lazy("Country"),
}


@dpo_view
@require_http_methods(["GET", "POST"])
def subject_search_view(request: HttpRequest) -> TemplateResponse:
    form = SubjectSearchForm(request.POST if request.method == "POST" else None)
    matches, kind = None, ""
    if form.is_bound and form.is_valid():
        kind = form.kind()
        try:
            matches = subject_search(kind=kind, value=form.cleaned_data["value"],
                                     actor=actor_of(request))
            for record in (r for m in matches for r in m.records):
                record["fields"] = [(FIELD_LABELS.get(n, n), v) for n, v in record["fields"]]
        except SubjectInvalid:
            form.add_error("value", _("This is neither a valid email nor a valid phone "
                                      "number."))
    return dpo_page(request, "cdp/dpo/subject_search.html", _("Find a person"),
                    form=form, matches=matches, kind=kind)


def _summary(profile_id: uuid.UUID) -> dict:
    try:
        return profile_summary(profile_id)
    except Profile.DoesNotExist as exc:
        raise Http404 from exc


@dpo_view
@require_POST
def subject_access_view(request: HttpRequest, profile_id: uuid.UUID) -> HttpResponse:
    """The subject's ZIP archive; dsar_access registers the request and audits it."""
    if not Profile.objects.filter(pk=profile_id).exists():
        raise Http404
    form = AccessForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(_("The reason is too long (300 characters at most)."))
    archive = dsar_access(profile_ids=[profile_id], identified_by=form.identified_by(),
                          actor=actor_of(request), reason=form.cleaned_data.get("reason", ""))
    response = HttpResponse(archive, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="subject-{profile_id}.zip"'
    return response


@dpo_view
@require_http_methods(["GET", "POST"])
def subject_erase_view(request: HttpRequest, profile_id: uuid.UUID) -> HttpResponseBase:
    summary = _summary(profile_id)
    form = ReasonForm(request.POST if request.method == "POST" else None,
                      initial={"by": request.GET.get("by", "")})
    if form.is_bound and form.is_valid():
        result = subject_erase(profile_ids=[profile_id], identified_by=form.identified_by(),
                               actor=actor_of(request), reason=form.cleaned_data["reason"])
        messages.success(request, _("The person was erased (request #%(request)s).")
                         % {"request": result.request.pk if result.request else "-"})
        return redirect("cdp_ui:subject_search")
    return dpo_page(
        request, "cdp/dpo/confirm.html", _("Erase this person (GDPR Art. 17)"),
        summary=summary, form=form, danger=True, submit_label=_("Erase for good"),
        explanation=_(
            "Cannot be undone. Records, events, consent entries, segment memberships and "
            "the profile are deleted, their data keys destroyed, destinations told to "
            "delete; the identifiers stay only as blind indexes on the suppression list, so "
            "a source cannot bring the person back."),
    )


@dpo_view
@require_http_methods(["GET", "POST"])
def subject_restrict_view(request: HttpRequest, profile_id: uuid.UUID) -> HttpResponseBase:
    """Restrict processing, or lift the restriction of a restricted profile."""
    summary = _summary(profile_id)
    profile = summary["profile"]
    lift = profile.restricted_at is not None
    form = RestrictionForm(request.POST if request.method == "POST" else None,
                           initial={"by": request.GET.get("by", ""),
                                    "op": "lift" if lift else "restrict"})
    if form.is_bound and form.is_valid():
        if (form.cleaned_data["op"] == "lift") != lift:  # a resubmit, or another DPO first
            messages.info(request, _("Nothing changed: the restriction was already lifted.")
                          if not lift else _("Nothing changed: already restricted."))
            return redirect("cdp_ui:subject_search")
        change = profile_unrestrict if lift else profile_restrict
        changed = change(profile=profile, actor=actor_of(request),
                         reason=form.cleaned_data["reason"])
        if not changed:
            messages.info(request, _("Nothing changed."))
        else:
            messages.success(request, _("The restriction was lifted.") if lift
                             else _("Processing of this person is now restricted."))
        return redirect("cdp_ui:subject_search")
    if lift:
        title, submit = _("Lift the restriction"), _("Lift the restriction")
        explanation = _("The person will be used again: segments take them back at once.")
    else:
        title, submit = _("Restrict processing (GDPR Art. 18)"), _("Restrict processing")
        explanation = _(
            "The data is kept, but the person leaves every segment and destination and is "
            "used for nothing until the restriction is lifted.")
    return dpo_page(request, "cdp/dpo/confirm.html", title, summary=summary, form=form,
                    danger=False, submit_label=submit, explanation=explanation)
