"""Admin for the core domain. Personal data is shown only on a record's own page, and that
view is audited; lists show pseudonymous columns only. Roles (cdp.roles) decide who sees
it in clear (DPO, admin) or masked (marketer, steward, staff without a role)."""

from typing import Any, NamedTuple

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase, StreamingHttpResponse
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import (
    ChoicesDropdownFilter,
    FieldTextFilter,
    RelatedDropdownFilter,
)

from cdp.admin_privacy import (
    RoleGuardedAdmin,
    consent_export_response,
    erasure_action,
    restriction_action,
)
from cdp.audit import audit_record
from cdp.models import (
    ApiKey,
    AuditEvent,
    ConsentEntry,
    Event,
    Profile,
    Purpose,
    Source,
    SourceRecord,
    SubjectRequest,
)
from cdp.privacy.masking import mask_personal
from cdp.roles import Role, has_role, user_sees_personal_data
from cdp.services.api_keys import InvalidScope, api_key_create, api_key_revoke, check_rate
from cdp.services.audit_export import audit_export
from cdp.services.profiles import record_plain
from cdp.ui.dpo_admin import DpoListToolsMixin
from cdp.ui.dpo_filters import ActionFilter, DayRangeFilter, PurposeFilter, titled
from identity.ui.profile_admin import ProfileIdentityMixin


def _actor(request: HttpRequest) -> str:
    return f"user:{request.user.get_username()}"


class _Viewer(NamedTuple):
    """Who opened an object's page, kept on the object (ModelAdmin instances are shared
    between requests, so not on the admin)."""

    actor: str
    masked: bool


class ReadOnlyAdmin(RoleGuardedAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Source)
class SourceAdmin(ModelAdmin):
    list_display = ["name", "kind", "priority", "created_at"]
    list_filter = ["kind"]
    search_fields = ["name"]


@admin.register(SourceRecord)
class SourceRecordAdmin(ReadOnlyAdmin):
    holds_personal_data = True
    profile_lookup = "profile_id"
    list_display = ["external_id", "source", "profile", "city", "country", "implicit", "updated_at"]
    list_filter = ["source", "implicit"]
    search_fields = ["external_id"]
    list_select_related = ["source"]
    fields = ["source", "external_id", "profile", "personal_data", "attributes", "implicit",
              "received_at", "updated_at"]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).defer(
            "first_name_enc", "last_name_enc", "email_enc", "phone_enc", "birth_date_enc",
            "address_line1_enc", "address_line2_enc", "customer_id_enc", "match_enc",
        )

    def get_object(self, request: HttpRequest, object_id: str, from_field: Any = None) -> Any:
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            obj._viewer = _Viewer(_actor(request), not user_sees_personal_data(request.user))
        return obj

    @admin.display(description=_("Personal data (audited; masked unless DPO or admin)"))
    def personal_data(self, obj: SourceRecord) -> str:
        # The theme renders a read-only field more than once per page: one view, one audit.
        if getattr(obj, "_personal_html", None) is not None:
            return obj._personal_html
        viewer = getattr(obj, "_viewer", None) or _Viewer("admin", masked=True)
        values = record_plain(SourceRecord.objects.get(pk=obj.pk))
        if viewer.masked:
            values = mask_personal(values)
        audit_record(
            actor=viewer.actor,
            action="record.view",
            object_type="source_record",
            object_id=str(obj.pk),
            profile_id=obj.profile_id,
            details={"masked": True} if viewer.masked else None,
        )
        obj._personal_html = format_html_join("", "<div><b>{}</b>: {}</div>", values.items())
        return obj._personal_html


@admin.register(Profile)
class ProfileAdmin(ProfileIdentityMixin, ReadOnlyAdmin):
    """A profile's page: the standard fields, then identity's golden record, records with
    their match graph and unmerge, and history (identity.ui.profile_admin)."""

    holds_personal_data = True
    profile_lookup = "pk"
    list_display = ["id", "created_at", "updated_at", "restricted_at"]
    list_filter = [("restricted_at", admin.EmptyFieldListFilter)]
    search_fields = ["id"]
    readonly_fields = ["restricted_at"]
    actions = ["restrict_processing", "lift_restriction", "erase_subjects"]

    def has_dpo_permission(self, request: HttpRequest) -> bool:
        return is_dpo(request.user)

    @admin.action(description=_("Restrict processing (GDPR Art. 18)"), permissions=["dpo"])
    def restrict_processing(self, request: HttpRequest, queryset: Any) -> Any:
        if not is_dpo(request.user):
            raise PermissionDenied
        return restriction_action(self, request, queryset, actor=_actor(request), lift=False)

    @admin.action(description=_("Lift the restriction"), permissions=["dpo"])
    def lift_restriction(self, request: HttpRequest, queryset: Any) -> Any:
        if not is_dpo(request.user):
            raise PermissionDenied
        return restriction_action(self, request, queryset, actor=_actor(request), lift=True)

    @admin.action(description=_("Erase (GDPR Art. 17)"), permissions=["dpo"])
    def erase_subjects(self, request: HttpRequest, queryset: Any) -> Any:
        if not is_dpo(request.user):
            raise PermissionDenied
        return erasure_action(self, request, queryset, actor=_actor(request))


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    holds_personal_data = True
    profile_lookup = "profile_id"
    list_display = ["event_id", "type", "source", "profile", "occurred_at", "value"]
    list_filter = ["type", "source"]
    date_hierarchy = "occurred_at"
    list_select_related = ["source"]
    search_fields = ["event_id"]


@admin.register(ConsentEntry)
class ConsentEntryAdmin(DpoListToolsMixin, ReadOnlyAdmin):
    """The ledger, read-only (the database refuses changes anyway). The DPO exports the
    filtered list (buttons above it) or a selection (actions)."""

    holds_personal_data = True
    profile_lookup = "profile_id"

    list_display = ["profile", "purpose", "status", "lawful_basis", "channel", "source",
                    "notice_version", "captured_at", "expires_at", "recorded_at", "recorded_by"]
    list_filter = [
        PurposeFilter, ("status", titled(ChoicesDropdownFilter, _("status"))),
        ("source", titled(RelatedDropdownFilter, _("source"))),
        ("captured_at", titled(DayRangeFilter, _("date captured"))),
        ("lawful_basis", titled(admin.AllValuesFieldListFilter, _("lawful basis"))),
        ("channel", titled(admin.AllValuesFieldListFilter, _("channel"))),
    ]
    list_select_related = ["source"]
    search_fields = ["=profile__id"]
    search_help_text = _("Profile id (exact)")
    actions = ["export_csv", "export_json"]

    def has_dpo_permission(self, request: HttpRequest) -> bool:
        return is_dpo(request.user)

    @admin.action(description=_("Export selected as CSV (consent proofs)"), permissions=["dpo"])
    def export_csv(self, request: HttpRequest, queryset: Any) -> HttpResponseBase:
        if not is_dpo(request.user):
            raise PermissionDenied
        return consent_export_response(request, queryset, actor=_actor(request), fmt="csv")

    @admin.action(description=_("Export selected as JSON (consent proofs)"),
                  permissions=["dpo"])
    def export_json(self, request: HttpRequest, queryset: Any) -> HttpResponseBase:
        if not is_dpo(request.user):
            raise PermissionDenied
        return consent_export_response(request, queryset, actor=_actor(request), fmt="json")


@admin.register(Purpose)
class PurposeAdmin(ModelAdmin):
    """Purposes are data: add or describe them here. Never deleted, nor renamed, since
    ledger entries name them."""

    list_display = ["slug", "name", "created_at"]
    search_fields = ["slug", "name"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["slug", "created_at"] if obj else ["created_at"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def is_dpo(user: Any) -> bool:
    """Members of the dpo group, and admins (superusers, admin group)."""
    return has_role(user, Role.DPO)


@admin.register(AuditEvent)
class AuditEventAdmin(DpoListToolsMixin, ReadOnlyAdmin):
    """The audit log: filters, export of the filtered list, the hash chain's state."""

    holds_personal_data = True
    profile_lookup = "profile_id"
    shows_chain = True
    list_display = ["at", "actor", "action", "object_type", "object_id", "profile_id"]
    list_filter = [
        ActionFilter, ("actor", titled(FieldTextFilter, _("actor"))),
        ("at", titled(DayRangeFilter, _("date"))),
    ]
    search_fields = ["actor", "object_id", "profile_id"]
    search_help_text = _("Actor, object id or profile id")
    actions = ["export_csv"]

    def has_dpo_permission(self, request: HttpRequest) -> bool:
        """Admin actions restricted with permissions=["dpo"] (superusers, "dpo" group)."""
        return is_dpo(request.user)

    @admin.action(description=_("Export selected as CSV"), permissions=["dpo"])
    def export_csv(self, request: HttpRequest, queryset: Any) -> HttpResponseBase:
        if not is_dpo(request.user):  # the admin already hides it; refuse a forged POST too
            raise PermissionDenied
        export = audit_export(events=queryset, fmt="csv", actor=_actor(request), via="admin")
        response = StreamingHttpResponse(export, content_type=export.content_type)
        response["Content-Disposition"] = 'attachment; filename="audit.csv"'
        return response


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        label=_("Scopes"), choices=ApiKey.Scope.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = ApiKey
        fields = ["name", "scopes", "rate"]

    def clean_rate(self) -> str:
        rate = self.cleaned_data["rate"]
        try:
            check_rate(rate)
        except InvalidScope as exc:
            raise forms.ValidationError(str(exc)) from exc
        return rate


@admin.register(ApiKey)
class ApiKeyAdmin(ModelAdmin):
    form = ApiKeyForm
    list_display = ["name", "prefix", "scopes", "rate", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        key, raw = api_key_create(
            name=obj.name, scopes=list(form.cleaned_data["scopes"]), rate=obj.rate,
            created_by=request.user, actor=_actor(request),
        )
        obj.pk = key.pk
        messages.warning(request, _("API key (shown once, copy it now): %(key)s") % {"key": raw})

    @admin.action(description=_("Revoke selected keys"))
    def revoke(self, request: HttpRequest, queryset: Any) -> None:
        for key in queryset.filter(revoked_at__isnull=True):
            api_key_revoke(key=key, actor=_actor(request))


@admin.register(SubjectRequest)
class SubjectRequestAdmin(ReadOnlyAdmin):
    """The DPO's register of data-subject requests (written by the DSAR services)."""

    holds_personal_data = True

    list_display = ["received_at", "kind", "identified_by", "handled_by", "answered_at"]
    list_filter = ["kind"]


# The admin theme's home page is the per-role dashboard (cdp.ui.dashboard); users and
# groups get the theme too.
import cdp.ui.site  # noqa: E402, F401
