"""What the DPO's ledger and audit log lists add to the admin: export of the list as it
is filtered now (CSV / JSON, streamed, audited), and on the audit log the state of the
hash chain with a "Verify now" button. Views and rules live in cdp.admin_privacy and the
services; this only wires them into a ModelAdmin."""

from typing import Any

from django.http import HttpRequest, HttpResponseBase
from django.urls import URLPattern, path

from cdp.admin_privacy import filtered_export_view
from cdp.roles import Role, has_role
from cdp.services.audit_verify import audit_last_check


class DpoListToolsMixin:
    """Put before RoleGuardedAdmin in the bases. `shows_chain`: the audit log's box."""

    list_before_template = "admin/cdp/dpo_list_tools.html"
    list_filter_submit = True
    shows_chain = False

    def get_urls(self) -> list[URLPattern]:
        opts = self.model._meta  # type: ignore[attr-defined]
        export = self.admin_site.admin_view(self.export_view)  # type: ignore[attr-defined]
        return [
            path("export/<str:fmt>/", export,
                 name=f"{opts.app_label}_{opts.model_name}_export"),
            *super().get_urls(),  # type: ignore[misc]
        ]

    def export_view(self, request: HttpRequest, fmt: str) -> HttpResponseBase:
        return filtered_export_view(self, request, fmt)  # type: ignore[arg-type]

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        opts = self.model._meta  # type: ignore[attr-defined]
        dpo = has_role(request.user, Role.DPO)
        context = {
            **(extra_context or {}),
            "dpo_tools": dpo,
            "export_url_name": f"admin:{opts.app_label}_{opts.model_name}_export",
            "chain_check": audit_last_check() if dpo and self.shows_chain else None,
            "shows_chain": dpo and self.shows_chain,
        }
        return super().changelist_view(request, context)  # type: ignore[misc]
