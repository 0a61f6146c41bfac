"""API shapes of the connectors. Credentials are write-only: a destination says which
credential names it holds, never their values."""

from typing import Any

from django.urls import reverse
from rest_framework import serializers

from cdp.api.exporting import ExportQuerySerializer
from connectors.models import AudienceSync, Destination, ErasureDelivery, SyncRun
from connectors.registry import limits_for
from connectors.services import destination_credentials_set
from segments.models import Segment


class DestinationInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=64, help_text="Slug: letters, digits, - and _.")
    kind = serializers.ChoiceField(choices=Destination.Kind.choices)
    purpose = serializers.CharField(max_length=64, help_text="Consent purpose slug a member "
                                    "must be allowed for, e.g. email_marketing.")
    base_url = serializers.CharField(max_length=300, required=False, allow_blank=True,
                                     help_text="Empty: the vendor's. May hold {dc}.")
    field_mapping = serializers.DictField(
        child=serializers.CharField(), required=False,
        help_text='Vendor field -> profile field or trait: {"FNAME": "first_name", '
                  '"REVENUE": "traits.revenue_total"}.')
    credentials = serializers.DictField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False), required=False,
        write_only=True,
        help_text="Write-only. mailchimp: {api_key}; webhook: {secret}. Left out on a change: "
                  "kept.")
    rate_per_s = serializers.FloatField(required=False, allow_null=True,
                                        help_text="null: the vendor's documented limit.")
    max_concurrency = serializers.IntegerField(required=False, allow_null=True)
    batch_size = serializers.IntegerField(required=False, allow_null=True)
    timeout_s = serializers.FloatField(required=False, allow_null=True)
    max_retries = serializers.IntegerField(required=False, allow_null=True)
    failure_threshold = serializers.FloatField(
        required=False, allow_null=True, help_text="A run failing more than this share of "
        "its members is flagged.")
    enabled = serializers.BooleanField(required=False)


class DestinationOutputSerializer(serializers.ModelSerializer):
    credentials_set = serializers.SerializerMethodField(
        help_text="Names of the credentials held (values are never returned).")
    effective_limits = serializers.SerializerMethodField(
        help_text="What runs use: the destination's settings, else the vendor's limits.")
    webhook_url = serializers.SerializerMethodField(
        help_text="Mailchimp opt-out webhook URL with its token (admin keys only).")

    class Meta:
        model = Destination
        fields = ["id", "name", "kind", "purpose", "base_url", "field_mapping", "rate_per_s",
                  "max_concurrency", "batch_size", "timeout_s", "max_retries",
                  "failure_threshold", "enabled", "credentials_set", "effective_limits",
                  "webhook_url", "created_at", "updated_at"]

    def get_credentials_set(self, destination: Destination) -> list[str]:
        return destination_credentials_set(destination)

    def get_effective_limits(self, destination: Destination) -> dict[str, Any]:
        limits = limits_for(destination)
        return {"rate_per_s": limits.rate_per_s, "concurrency": limits.concurrency,
                "batch_size": limits.batch_size}

    def get_webhook_url(self, destination: Destination) -> str | None:
        request = self.context.get("request")
        if (not self.context.get("show_token") or request is None
                or destination.kind != Destination.Kind.MAILCHIMP):
            return None
        path = reverse("destination-webhook-mailchimp", args=[destination.pk])
        return f"{request.build_absolute_uri(path)}?token={destination.inbound_token}"


class SyncInputSerializer(serializers.Serializer):
    segment = serializers.SlugRelatedField(slug_field="slug", queryset=Segment.objects.all())
    destination = serializers.SlugRelatedField(slug_field="name",
                                               queryset=Destination.objects.all())
    container = serializers.DictField(
        help_text='mailchimp: {"list_id", "tag"}; webhook: {"url"}.')
    mode = serializers.ChoiceField(choices=AudienceSync.Mode.choices, required=False)
    schedule = serializers.CharField(max_length=100, required=False, allow_blank=True,
                                     help_text="Cron, Europe/Paris; empty: on changes and "
                                               "nightly only.")
    enabled = serializers.BooleanField(required=False)


class SyncOutputSerializer(serializers.ModelSerializer):
    segment = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    destination = serializers.SlugRelatedField(slug_field="name", read_only=True)

    class Meta:
        model = AudienceSync
        fields = ["id", "segment", "destination", "mode", "container", "schedule", "enabled",
                  "created_at", "last_run_at"]


class SyncRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = SyncRun
        fields = ["id", "status", "trigger", "started_at", "finished_at", "added", "updated",
                  "removed", "unchanged", "failed", "skipped_consent", "skipped_unreachable",
                  "repaired", "opt_outs", "api_calls", "write_calls", "retries",
                  "duration_ms", "failure_rate", "flagged", "error"]


class ErasureExportQuerySerializer(ExportQuerySerializer):
    request = serializers.IntegerField(required=False, help_text="Subject request id.")
    status = serializers.ChoiceField(choices=ErasureDelivery.Status.choices, required=False)


def errors_body(errors: Any, prefix: str = "") -> list[dict[str, str]]:
    """DRF's nested error dict as [{"field", "message"}] (the shape of services.Invalid)."""
    if isinstance(errors, dict):
        out = []
        for name, value in errors.items():
            field = name if name != "non_field_errors" else ""
            out += errors_body(value, f"{prefix}.{field}" if prefix and field else
                               (field or prefix))
        return out
    if isinstance(errors, list):
        out = []
        for item in errors:
            out += errors_body(item, prefix)
        return out
    return [{"field": prefix, "message": str(errors)}]
