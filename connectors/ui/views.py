"""The sync page of one audience sync, and its "Sync now" / "Reconcile now" buttons.

Views only check permissions, call connectors.services and render; what is read comes
from connectors.ui.syncs. Both buttons are POSTs (CSRF) answered by a redirect back to
the page with a message saying what happened.
"""

from typing import Any

from django.contrib import messages
from django.contrib.admin import ModelAdmin
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
from django.utils.translation import gettext as _

from cdp.roles import access_denied_record, user_role_names, user_sees_personal_data
from connectors.models import AudienceSync, SyncRun
from connectors.services import Invalid, sync_run_request
from connectors.ui.syncs import (
    CHART_OPTIONS,
    COUNTS,
    failed_members,
    member_counts,
    runs_chart,
    sync_runs,
)


def _actor(request: HttpRequest) -> str:
    return f"user:{request.user.get_username()}"


def page_url(sync_id: int) -> str:
    return reverse("admin:connectors_audiencesync_page", args=[sync_id])


def _sync(model_admin: ModelAdmin, request: HttpRequest, pk: int) -> AudienceSync:
    sync = get_object_or_404(AudienceSync.objects.select_related("segment", "destination"),
                             pk=pk)
    if not model_admin.has_view_permission(request, sync):
        raise PermissionDenied
    return sync


def sync_page_view(model_admin: ModelAdmin, request: HttpRequest, pk: int) -> HttpResponse:
    """Status, last runs with their counts, refused members; DPO and admins may add
    ?reveal=1 to read the emails refused members were sent under (audited)."""
    sync = _sync(model_admin, request, pk)
    clear = user_sees_personal_data(request.user)
    if request.GET.get("reveal") == "1" and not clear:
        # Asked for emails in clear without the role: the page shows ids, and the
        # attempt is audited like every refused read.
        access_denied_record(actor=_actor(request), channel="admin",
                             attempted="connectors.syncmember:reveal",
                             details={"sync": sync.pk,
                                      "roles": sorted(user_role_names(request.user))})
    reveal = clear and request.GET.get("reveal") == "1"
    runs = sync_runs(sync)
    failed, failed_total = failed_members(
        sync, reveal_for=_actor(request) if reveal else None)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": _("Sync: %(segment)s to %(destination)s") % {
            "segment": sync.segment.name, "destination": sync.destination.name},
        "opts": model_admin.model._meta,
        "sync": sync,
        "last": runs[0] if runs else None,
        "runs": [(run, [(field, getattr(run, field)) for field, _label, _c in COUNTS])
                 for run in runs],
        "counts": [(field, label) for field, label, _colour in COUNTS],
        "chart": runs_chart(runs) if len(runs) > 1 else None,
        "chart_options": CHART_OPTIONS,
        "members": member_counts(sync),
        "failed": failed,
        "failed_total": failed_total,
        "can_run": model_admin.has_change_permission(request, sync),
        "can_reveal": clear and not reveal,
        "revealed": reveal,
        "change_url": reverse("admin:connectors_audiencesync_change", args=[sync.pk]),
        "list_url": reverse("admin:connectors_audiencesync_changelist"),
        "runs_url": reverse("admin:connectors_syncrun_changelist")
        + f"?sync__id__exact={sync.pk}",
    }
    return TemplateResponse(request, "admin/connectors/audiencesync/sync_page.html", context)


def _summary(run: SyncRun) -> str:
    return _("%(status)s: %(added)s added, %(updated)s updated, %(removed)s removed, "
             "%(unchanged)s unchanged, %(failed)s failed.") % {
        "status": run.get_status_display(), "added": run.added, "updated": run.updated,
        "removed": run.removed, "unchanged": run.unchanged, "failed": run.failed}


def _report(request: HttpRequest, run: SyncRun) -> None:
    if run.status == SyncRun.Status.SUCCEEDED:
        messages.success(request, _summary(run))
    else:
        messages.warning(request, _summary(run))


def sync_action_view(model_admin: ModelAdmin, request: HttpRequest, pk: int,
                     action: str) -> HttpResponse:
    """"sync": queue a run; "reconcile": queue a read-back of the container that repairs
    every difference (both run at once where Celery is eager, as in the demo)."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    sync = _sync(model_admin, request, pk)
    if not model_admin.has_change_permission(request, sync):
        raise PermissionDenied
    before = SyncRun.objects.filter(sync=sync).order_by("-started_at").first()
    try:
        if action not in ("sync", "reconcile"):
            raise Http404
        sync_run_request(actor=_actor(request), sync=sync, reconcile=action == "reconcile")
        latest = SyncRun.objects.filter(sync=sync).order_by("-started_at").first()
        if latest is not None and latest != before and latest.status != "running":
            _report(request, latest)
        else:
            messages.info(request, _("Sync queued: its run appears here when it has "
                                     "finished."))
    except Invalid as exc:
        messages.error(request, _("Cannot run: %(reason)s") % {"reason": exc.message})
    return HttpResponseRedirect(page_url(sync.pk))


def admin_urls(model_admin: ModelAdmin) -> list[Any]:
    """The sync page URLs, wrapped in the admin site's login and staff checks."""
    from django.urls import path

    wrap = model_admin.admin_site.admin_view
    return [
        path("<int:pk>/sync/", wrap(lambda r, pk: sync_page_view(model_admin, r, pk)),
             name="connectors_audiencesync_page"),
        path("<int:pk>/sync/<slug:action>/",
             wrap(lambda r, pk, action: sync_action_view(model_admin, r, pk, action)),
             name="connectors_audiencesync_action"),
    ]
