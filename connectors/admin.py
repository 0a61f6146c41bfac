"""Admin of the connectors: destinations (write-only credentials), audience syncs ("Run
now"), runs and erasure deliveries (read-only; DPO export). Forms validate and save
through connectors.services, like the API and the commands."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponseBase, StreamingHttpResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import capfirst, format_lazy
from django.utils.translation import gettext_lazy as _

from cdp.admin import ReadOnlyAdmin, is_dpo
from cdp.admin_privacy import RoleGuardedAdmin
from cdp.roles import Role, has_role
from connectors.erasure_export import erasure_deliveries_export
from connectors.models import AudienceSync, Destination, ErasureDelivery, SyncRun
from connectors.registry import CREDENTIALS, limits_for
from connectors.services import (
    LIMITS,
    Invalid,
    destination_check,
    destination_credentials_set,
    destination_save,
    sync_check,
    sync_delete,
    sync_run_request,
    sync_save,
)
from connectors.ui.views import admin_urls, page_url

CREDENTIAL_NAMES = sorted({name for names in CREDENTIALS.values() for name in names})
# How the credential inputs are labelled (by credential name; others: the name itself).
CREDENTIAL_LABELS = {
    "api_key": _("API key"), "secret": _("signing secret"), "access_token": _("access token"),
    "client_id": _("client id"), "client_secret": _("client secret"),
    "refresh_token": _("refresh token"),
}


def _actor(request: HttpRequest) -> str:
    return f"user:{request.user.get_username()}"


def _credential_field(name: str) -> str:
    return f"credential_{name}"


class _DestinationForm(forms.ModelForm):
    """Credential inputs are password fields, never filled in: blank keeps the current
    value. Everything is checked by services.destination_check."""

    class Meta:
        model = Destination
        fields = ["name", "kind", "purpose", "base_url", "field_mapping", "enabled", *LIMITS]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        self.credentials: dict[str, str] | None = None
        kind = data.get("kind")
        if kind not in CREDENTIALS or data.get("purpose") is None or "name" not in data:
            return data  # a field error is already shown
        given = {name: data[_credential_field(name)] for name in CREDENTIALS[kind]
                 if data.get(_credential_field(name))}
        self.credentials = given or None
        try:
            destination_check(
                name=data["name"], kind=kind, purpose=data["purpose"].pk,
                credentials=self.credentials, base_url=data.get("base_url") or "",
                field_mapping=data.get("field_mapping"),
                destination=self.instance if self.instance.pk else None,
                **{name: data.get(name) for name in LIMITS},
            )
        except Invalid as exc:
            field = _credential_field(CREDENTIALS[kind][0]) if exc.field == "credentials" \
                else exc.field
            self.add_error(field if field in self.fields else None, exc.message)
        return data


def _credential_inputs() -> dict[str, forms.Field]:
    fields = {}
    for name in CREDENTIAL_NAMES:
        kinds = ", ".join(k for k, names in CREDENTIALS.items() if name in names)
        fields[_credential_field(name)] = forms.CharField(
            required=False, label=capfirst(CREDENTIAL_LABELS.get(name, name.replace("_", " "))),
            widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
            help_text=format_lazy(_("For {kinds}. Write-only: never shown again; blank keeps "
                                    "the current one."), kinds=kinds))
    return fields


DestinationForm = type("DestinationForm", (_DestinationForm,), _credential_inputs())


@admin.register(Destination)
class DestinationAdmin(RoleGuardedAdmin):
    """Admins create and change destinations; marketers see them (no secret shown)."""

    form = DestinationForm
    list_display = ["name", "kind", "purpose", "enabled", "credentials_held", "updated_at"]
    list_filter = ["kind", "enabled", "purpose"]
    search_fields = ["name"]
    readonly_fields = ["credentials_held", "inbound_webhook", "effective_limits", "created_at",
                       "updated_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return has_role(request.user, Role.ADMIN)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return has_role(request.user, Role.ADMIN)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # disable instead: erasure proofs and syncs name the destination

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> list:
        secrets = ["credentials_held"]
        if self.has_change_permission(request, obj):
            secrets += [_credential_field(name) for name in CREDENTIAL_NAMES]
            if obj is not None:
                secrets.append("inbound_webhook")
        return [
            (None, {"fields": ["name", "kind", "purpose", "base_url", "field_mapping",
                               "enabled"]}),
            (_("Credentials (write-only)"), {"fields": secrets}),
            (_("Limits (blank: the vendor's)"), {"fields": [*LIMITS, "effective_limits"]}),
            (_("Dates"), {"fields": ["created_at", "updated_at"]}),
        ]

    def get_object(self, request: HttpRequest, object_id: str, from_field: Any = None) -> Any:
        obj = super().get_object(request, object_id, from_field)
        if obj is not None and has_role(request.user, Role.ADMIN):
            obj._webhook_root = request.build_absolute_uri("/").rstrip("/")
        return obj

    @admin.display(description=_("credentials held"))
    def credentials_held(self, obj: Destination) -> str:
        return ", ".join(destination_credentials_set(obj)) or str(_("none"))

    @admin.display(description=_("opt-out webhook URL (Mailchimp: Audience > Settings > "
                                 "Webhooks; unsubscribes and cleaned)"))
    def inbound_webhook(self, obj: Destination) -> str:
        root = getattr(obj, "_webhook_root", None)
        if root is None or obj.kind != Destination.Kind.MAILCHIMP or not obj.pk:
            return "-"
        path = reverse("destination-webhook-mailchimp", args=[obj.pk])
        return f"{root}{path}?token={obj.inbound_token}"

    @admin.display(description=_("limits in use"))
    def effective_limits(self, obj: Destination) -> str:
        if not obj.kind:
            return "-"
        limits = limits_for(obj)
        rate = f"{limits.rate_per_s:g}/s" if limits.rate_per_s else str(_("no rate limit"))
        return _("%(rate)s, %(concurrency)s at once, batches of %(batch)s") % {
            "rate": rate, "concurrency": limits.concurrency, "batch": limits.batch_size}

    def save_model(self, request: HttpRequest, obj: Destination, form: Any, change: bool) -> None:
        data = form.cleaned_data
        destination_save(
            actor=_actor(request), destination=obj, name=data["name"], kind=data["kind"],
            purpose=data["purpose"].pk, credentials=form.credentials,
            base_url=data.get("base_url") or "", field_mapping=data.get("field_mapping"),
            enabled=data.get("enabled", True), **{name: data.get(name) for name in LIMITS},
        )


class SyncForm(forms.ModelForm):
    class Meta:
        model = AudienceSync
        fields = ["segment", "destination", "mode", "container", "schedule", "enabled"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if any(data.get(name) is None for name in ("segment", "destination", "container")):
            return data  # a field error is already shown
        try:
            sync_check(segment=data["segment"], destination=data["destination"],
                       container=data["container"], mode=data.get("mode") or "",
                       schedule=data.get("schedule") or "",
                       sync=self.instance if self.instance.pk else None)
        except Invalid as exc:
            self.add_error(exc.field if exc.field in self.fields else None, exc.message)
        return data


@admin.register(AudienceSync)
class AudienceSyncAdmin(RoleGuardedAdmin):
    """Each sync has a page of its own (connectors.ui): status, runs, refused members,
    "Sync now" and "Reconcile now". The list shows each sync's last run."""

    form = SyncForm
    list_display = ["id", "sync_page", "last_status", "mode", "schedule", "enabled",
                    "last_run_at", "runs"]
    list_filter = ["enabled", "mode", "destination"]
    list_select_related = ["segment", "destination"]
    readonly_fields = ["created_at", "last_run_at", "runs"]
    actions = ["run_now", "stop_syncing"]
    change_form_before_template = "admin/connectors/audiencesync/page_link.html"

    def get_urls(self) -> list[Any]:
        return admin_urls(self) + super().get_urls()

    def get_queryset(self, request: HttpRequest) -> QuerySet[AudienceSync]:
        last = SyncRun.objects.filter(sync=OuterRef("pk")).order_by("-started_at")
        return super().get_queryset(request).annotate(
            last_status=Subquery(last.values("status")[:1]),
            last_failed=Subquery(last.values("failed")[:1]))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # "Stop syncing" disables: erasure must still find where people went

    @admin.display(description=_("sync"), ordering="segment__name")
    def sync_page(self, obj: AudienceSync) -> str:
        return format_html('<a class="text-primary-600 font-medium" href="{}">{} → {}</a>',
                           page_url(obj.pk), obj.segment.name, obj.destination.name)

    @admin.display(description=_("last run"))
    def last_status(self, obj: AudienceSync) -> str:
        status = getattr(obj, "last_status", None)
        if not status:
            return format_html('<span class="text-base-500">{}</span>', _("never run"))
        label = render_to_string("cdp/ui/status_label.html", {
            "status": status, "label": SyncRun.Status(status).label})
        if getattr(obj, "last_failed", 0):
            return format_html('{} <span class="text-red-600 text-xs">{}</span>', label,
                               _("%(n)s failed") % {"n": obj.last_failed})
        return label

    @admin.display(description=_("runs"))
    def runs(self, obj: AudienceSync) -> str:
        if not obj.pk:
            return "-"
        url = reverse("admin:connectors_syncrun_changelist") + f"?sync__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, _("all runs"))

    def save_model(self, request: HttpRequest, obj: AudienceSync, form: Any,
                   change: bool) -> None:
        data = form.cleaned_data
        sync_save(actor=_actor(request), sync=obj, segment=data["segment"],
                  destination=data["destination"], container=data["container"],
                  mode=data["mode"], schedule=data.get("schedule") or "",
                  enabled=data.get("enabled", True))

    @admin.action(description=_("Sync now"), permissions=["change"])
    def run_now(self, request: HttpRequest, queryset: Any) -> None:
        queued = 0
        for sync in queryset.select_related("destination"):
            try:
                sync_run_request(actor=_actor(request), sync=sync)
                queued += 1
            except Invalid as exc:
                self.message_user(request, _("sync %(id)s: %(message)s")
                                  % {"id": sync.pk, "message": exc.message}, messages.WARNING)
        if queued:
            self.message_user(request, _("%(n)s sync run(s) queued") % {"n": queued},
                              messages.SUCCESS)

    @admin.action(description=_("Stop syncing (disable)"), permissions=["change"])
    def stop_syncing(self, request: HttpRequest, queryset: Any) -> None:
        for sync in queryset:
            sync_delete(actor=_actor(request), sync=sync)
        self.message_user(request, _("%(n)s sync(s) disabled") % {"n": queryset.count()},
                          messages.SUCCESS)


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = ["started_at", "sync", "trigger", "status", "flagged", "added", "updated",
                    "removed", "unchanged", "failed", "skipped_consent", "api_calls",
                    "retries", "duration_ms"]
    list_filter = ["flagged", "status", "trigger", "sync__destination"]
    list_select_related = ["sync"]
    date_hierarchy = "started_at"


@admin.register(ErasureDelivery)
class ErasureDeliveryAdmin(ReadOnlyAdmin):
    """Proof of erasure at each destination: the DPO's (and admins') alone."""

    holds_personal_data = True
    profile_lookup = "profile_id"
    list_display = ["id", "request", "destination", "status", "attempts", "vendor_response",
                    "created_at", "done_at"]
    list_filter = ["status", "destination"]
    list_select_related = ["destination"]
    search_fields = ["=profile_id", "=request__id"]
    actions = ["export_csv", "export_json"]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_dpo(request.user) or super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_dpo(request.user)

    def has_dpo_permission(self, request: HttpRequest) -> bool:
        return is_dpo(request.user)

    def _export(self, request: HttpRequest, queryset: Any, fmt: str) -> HttpResponseBase:
        if not is_dpo(request.user):  # hidden already; refuse a forged POST too
            raise PermissionDenied
        export = erasure_deliveries_export(deliveries=queryset, fmt=fmt,
                                           actor=_actor(request), via="admin")
        response = StreamingHttpResponse(export, content_type=export.content_type)
        response["Content-Disposition"] = f'attachment; filename="erasure-deliveries.{fmt}"'
        return response

    @admin.action(description=_("Export selected as CSV (erasure proof)"), permissions=["dpo"])
    def export_csv(self, request: HttpRequest, queryset: Any) -> HttpResponseBase:
        return self._export(request, queryset, "csv")

    @admin.action(description=_("Export selected as JSON (erasure proof)"),
                  permissions=["dpo"])
    def export_json(self, request: HttpRequest, queryset: Any) -> HttpResponseBase:
        return self._export(request, queryset, "json")
