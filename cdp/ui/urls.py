"""The DPO's pages under /admin/ui/ (staff login, DPO or admin role: cdp.ui.dpo_access)."""

from django.urls import path

from cdp.ui import dpo_audit, dpo_retention, dpo_subjects

app_name = "cdp_ui"

urlpatterns = [
    path("privacy/subjects/", dpo_subjects.subject_search_view, name="subject_search"),
    path("privacy/subjects/<uuid:profile_id>/access/", dpo_subjects.subject_access_view,
         name="subject_access"),
    path("privacy/subjects/<uuid:profile_id>/erase/", dpo_subjects.subject_erase_view,
         name="subject_erase"),
    path("privacy/subjects/<uuid:profile_id>/restrict/", dpo_subjects.subject_restrict_view,
         name="subject_restrict"),
    path("privacy/retention/", dpo_retention.retention_view, name="retention"),
    path("privacy/retention/run/", dpo_retention.retention_run_view, name="retention_run"),
    path("privacy/audit/verify/", dpo_audit.audit_verify_view, name="audit_verify"),
]
