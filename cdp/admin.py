"""Admin for the core domain. Personal data is shown only on a record's own page, and that
view is audited; lists show pseudonymous columns only."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.html import format_html_join

from cdp.models import ApiKey, AuditEvent, ConsentEntry, Event, Profile, Source, SourceRecord
from cdp.services.api_keys import InvalidScope, api_key_create, api_key_revoke, check_rate
from cdp.services.profiles import record_plain


def _actor(request: HttpRequest) -> str:
    return f"user:{request.user.get_username()}"


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "priority", "created_at"]
    list_filter = ["kind"]
    search_fields = ["name"]


@admin.register(SourceRecord)
class SourceRecordAdmin(ReadOnlyAdmin):
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

    @admin.display(description="Personal data (decrypted, audited)")
    def personal_data(self, obj: SourceRecord) -> str:
        record = SourceRecord.objects.get(pk=obj.pk)
        values = record_plain(record)
        request = getattr(self, "_request", None)
        AuditEvent.objects.create(
            actor=_actor(request) if request else "admin",
            action="record.view",
            object_type="source_record",
            object_id=str(obj.pk),
            profile_id=obj.profile_id,
        )
        return format_html_join("", "<div><b>{}</b>: {}</div>", values.items())

    def change_view(self, request: HttpRequest, object_id: str, *args: Any, **kwargs: Any) -> Any:
        self._request = request
        return super().change_view(request, object_id, *args, **kwargs)


class SourceRecordInline(admin.TabularInline):
    model = SourceRecord
    fields = ["source", "external_id", "city", "implicit", "updated_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Profile)
class ProfileAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at", "updated_at"]
    search_fields = ["id"]
    inlines = [SourceRecordInline]


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["event_id", "type", "source", "profile", "occurred_at", "value"]
    list_filter = ["type", "source"]
    date_hierarchy = "occurred_at"
    list_select_related = ["source"]
    search_fields = ["event_id"]


@admin.register(ConsentEntry)
class ConsentEntryAdmin(ReadOnlyAdmin):
    list_display = ["profile", "purpose", "status", "channel", "captured_at", "recorded_at"]
    list_filter = ["purpose", "status", "channel"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "actor", "action", "object_type", "object_id", "profile_id"]
    list_filter = ["action"]
    search_fields = ["actor", "object_id", "profile_id"]


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=ApiKey.Scope.choices, widget=forms.CheckboxSelectMultiple
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
class ApiKeyAdmin(admin.ModelAdmin):
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
        messages.warning(request, f"API key (shown once, copy it now): {raw}")

    @admin.action(description="Revoke selected keys")
    def revoke(self, request: HttpRequest, queryset: Any) -> None:
        for key in queryset.filter(revoked_at__isnull=True):
            api_key_revoke(key=key, actor=_actor(request))
