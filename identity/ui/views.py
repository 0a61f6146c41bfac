"""Admin pages of identity: a review pair with its decision, and the unmerge of a record
with its confirmation. Thin: the selectors of identity.ui and the services of
identity.services do the work; these check roles, render and redirect."""

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _

from cdp.models import Profile, SourceRecord
from cdp.roles import (
    Role,
    access_denied_record,
    has_role,
    user_role_names,
    user_sees_personal_data,
)
from identity.models import MatchReview
from identity.services import AlreadyDecided, record_unmerge, review_decide
from identity.ui.review import next_pending, review_pair


def actor_of(request: HttpRequest) -> str:
    return f"user:{request.user.get_username()}"


def is_steward(user: Any) -> bool:
    """Data stewards (and admins) decide pairs and unmerge records."""
    return bool(user.is_active and has_role(user, Role.STEWARD))


def _refuse(request: HttpRequest, attempted: str) -> PermissionDenied:
    """A refused read or decision is audited like every other refusal (cdp.roles)."""
    access_denied_record(actor=actor_of(request), channel="admin", attempted=attempted,
                         details={"method": request.method, "path": request.path,
                                  "roles": sorted(user_role_names(request.user))})
    return PermissionDenied()


def _page(model_admin: Any, request: HttpRequest, template: str, title: str,
          **context: Any) -> TemplateResponse:
    return TemplateResponse(request, template, {
        **model_admin.admin_site.each_context(request), "title": title,
        "opts": model_admin.model._meta, **context})


def review_pair_view(model_admin: Any, request: HttpRequest, object_id: str) -> HttpResponse:
    """Both records side by side (masked unless DPO or admin), the probability and the
    waterfall of match weights; Accept / Reject for stewards while pending."""
    if not model_admin.has_view_permission(request):
        raise _refuse(request, "identity.matchreview:view")
    review = get_object_or_404(MatchReview, pk=unquote(object_id))
    pair = review_pair(review=review, actor=actor_of(request),
                       masked=not user_sees_personal_data(request.user))
    following = next_pending(after=review)
    return _page(model_admin, request, "identity/review_pair.html",
                 _("Pair #%(id)s") % {"id": review.pk}, pair=pair,
                 can_decide=is_steward(request.user) and review.status == "pending",
                 next_review=following)


def review_decide_view(model_admin: Any, request: HttpRequest, object_id: str) -> HttpResponse:
    """Accept (merge now) or reject (never link): final, audited by the service."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if not is_steward(request.user):
        raise _refuse(request, "identity.matchreview:decide")
    review = get_object_or_404(MatchReview, pk=unquote(object_id))
    decision = request.POST.get("decision")
    if decision not in ("accept", "reject"):
        raise Http404
    try:
        review = review_decide(review=review, same_person=decision == "accept",
                               actor=actor_of(request))
    except AlreadyDecided:
        messages.warning(request, _("This pair was already decided."))
        return HttpResponseRedirect(reverse("admin:identity_matchreview_change",
                                            args=[review.pk]))
    if decision == "accept":
        profile_id = SourceRecord.objects.get(pk=review.record_a_id).profile_id
        url = reverse("admin:cdp_profile_change", args=[profile_id])
        messages.success(request, format_html(
            '{} <a class="underline" id="merged-profile" href="{}">{}</a>',
            _("Same person: the records are now in one profile."), url, _("Open the profile")))
    else:
        messages.success(request, _("Different people: these records will never be linked."))
    following = next_pending(after=review)
    if following is not None:
        return HttpResponseRedirect(reverse("admin:identity_matchreview_change",
                                            args=[following.pk]))
    return HttpResponseRedirect(reverse("admin:identity_matchreview_changelist"))


class UnmergeForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"), max_length=300, required=True,
        widget=forms.TextInput(attrs={"size": 60, "class": "border border-base-200 "
                                      "rounded-default px-3 py-2 w-full"}),
        help_text=_("Kept with the decision, e.g. “shared family address”."))


def unmerge_view(model_admin: Any, request: HttpRequest, object_id: str,
                 record_id: int) -> HttpResponse:
    """First a confirmation page; on POST with a reason, the record leaves the profile
    for a profile of its own, and never joins these records again."""
    if not is_steward(request.user):
        raise _refuse(request, "cdp.profile:unmerge")
    profile = get_object_or_404(Profile, pk=unquote(object_id))
    record = get_object_or_404(SourceRecord.objects.select_related("source"),
                               pk=record_id, profile=profile)
    others = SourceRecord.objects.filter(profile=profile).exclude(pk=record.pk).count()
    form = UnmergeForm(request.POST if request.method == "POST" else None)
    if others and form.is_bound and form.is_valid():
        new_id = record_unmerge(record=record, actor=actor_of(request),
                                reason=form.cleaned_data["reason"])
        messages.success(request, _("The record was split off into a profile of its own."))
        return HttpResponseRedirect(reverse("admin:cdp_profile_change", args=[new_id]))
    return _page(model_admin, request, "identity/unmerge_confirm.html", _("Unmerge a record"),
                 profile=profile, record=record, others=others, form=form,
                 profile_url=reverse("admin:cdp_profile_change", args=[profile.pk]))
