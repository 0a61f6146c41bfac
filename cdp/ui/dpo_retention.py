"""The retention page: the periods in force (settings, read-only), the latest runs, and
"run enforcement now" after a confirmation showing what a run would delete."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponseBase
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from cdp.services.retention import (
    retention_enforce,
    retention_rules,
    retention_runs,
    retention_schedule,
)
from cdp.tasks import retention_enforce_task
from cdp.ui.dpo_access import actor_of, dpo_page, dpo_view


@dpo_view
@require_safe
def retention_view(request: HttpRequest) -> HttpResponseBase:
    rules = [{"rule": rule, "schedule": retention_schedule(rule.task)}
             for rule in retention_rules()]
    return dpo_page(request, "cdp/dpo/retention.html", _("Retention"),
                    rules=rules, runs=list(retention_runs()))


@dpo_view
@require_http_methods(["GET", "POST"])
def retention_run_view(request: HttpRequest) -> HttpResponseBase:
    """GET: a dry run (audited as such) shows what would go; POST: the real run, queued
    on Celery (erasing many inactive profiles is no work for a web request; where Celery
    is eager, as in the demo, it has run when the page comes back)."""
    if request.method == "POST":
        queued = retention_enforce_task.delay(actor=actor_of(request))
        if queued.ready():
            result = queued.get()
            messages.success(request, _(
                "Retention enforced: %(events)s events deleted, %(profiles)s inactive "
                "profiles erased, %(kept)s restricted profiles kept.") % {
                "events": result["events_deleted"], "profiles": result["profiles_erased"],
                "kept": result["restricted_kept"]})
        else:
            messages.info(request, _("Retention enforcement queued: the run appears under "
                                     "Latest runs when it has finished."))
        return redirect("cdp_ui:retention")
    preview = retention_enforce(actor=actor_of(request), dry_run=True)
    return dpo_page(request, "cdp/dpo/retention_confirm.html", _("Run retention now"),
                    preview=preview)
