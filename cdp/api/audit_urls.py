"""URL patterns of the audit log API (DPO export)."""

from django.urls import path

from cdp.api.audit_views import AuditExportApi

urlpatterns = [
    path("audit", AuditExportApi.as_view(), name="audit-export"),
]
