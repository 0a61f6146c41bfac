"""The audit log's "Verify now": check the hash chain, record the outcome, go back."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cdp.services.audit_verify import audit_chain_check
from cdp.ui.dpo_access import actor_of, dpo_view


@dpo_view
@require_POST
def audit_verify_view(request: HttpRequest) -> HttpResponseBase:
    result = audit_chain_check(actor=actor_of(request))
    if result.intact:
        messages.success(request, _("Audit chain intact: %(rows)s rows checked.")
                         % {"rows": result.checked})
    else:
        messages.error(request, _("Audit chain broken at row #%(row)s: %(reason)s")
                       % {"row": result.first_broken_id, "reason": result.reason})
    # Back to the list as it was filtered: only a query string is taken from the form.
    filters = request.POST.get("filters", "")
    back = reverse("admin:cdp_auditevent_changelist")
    return redirect(back + filters if filters.startswith("?") else back)
