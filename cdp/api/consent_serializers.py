"""Shapes of the consent endpoints. Batch items are validated by the consent service (one
pass, per-item errors); the item serializer describes them for the OpenAPI schema."""

from typing import Any

from rest_framework import serializers

from cdp.api.exporting import ExportQuerySerializer
from cdp.privacy.consent import entry_allows
from cdp.services.consent_parsing import LAWFUL_BASES, STATUSES


class ConsentItemSerializer(serializers.Serializer):
    email = serializers.CharField(required=False)
    phone = serializers.CharField(required=False)
    customer_id = serializers.CharField(required=False)
    external_id = serializers.CharField(required=False, help_text="A record of the same source.")
    purpose = serializers.SlugField(help_text="A purpose slug (see the admin's Purposes).")
    status = serializers.ChoiceField(choices=STATUSES)
    lawful_basis = serializers.ChoiceField(choices=LAWFUL_BASES, default="consent")
    captured_at = serializers.DateTimeField(help_text="When the person made the choice.")
    expires_at = serializers.DateTimeField(required=False)
    channel = serializers.CharField(required=False, max_length=32)
    notice_version = serializers.CharField(
        required=False, max_length=32, help_text="Required for a grant under consent."
    )
    notice_text = serializers.CharField(required=False, help_text="Stored as SHA-256 only.")
    notice_hash = serializers.CharField(required=False, help_text="SHA-256 of the notice.")
    ip = serializers.CharField(required=False, help_text="Stored only as a keyed hash.")
    user_agent = serializers.CharField(required=False, help_text="Stored only as a keyed hash.")
    evidence = serializers.DictField(
        required=False, help_text="Form, campaign... Other unknown fields are evidence too."
    )


class ConsentBatchSerializer(serializers.Serializer):
    source = serializers.SlugField()
    consents = ConsentItemSerializer(many=True, max_length=5000)


class ConsentEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    purpose = serializers.CharField()
    status = serializers.CharField()
    lawful_basis = serializers.CharField()
    channel = serializers.CharField()
    source = serializers.CharField(source="source.name", allow_null=True, default=None)
    record = serializers.CharField(source="record.external_id", allow_null=True, default=None)
    notice_version = serializers.CharField()
    notice_hash = serializers.CharField()
    evidence = serializers.DictField()
    captured_at = serializers.DateTimeField()
    recorded_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    recorded_by = serializers.CharField()


class CurrentConsentSerializer(ConsentEntrySerializer):
    allowed = serializers.SerializerMethodField(
        help_text="Granted and not expired (restriction aside: see the profile's field)."
    )

    def get_allowed(self, entry: Any) -> bool:
        return entry_allows(entry, now=self.context["now"])


class ProfileConsentsSerializer(serializers.Serializer):
    profile = serializers.UUIDField()
    restricted_at = serializers.DateTimeField(allow_null=True)
    current = serializers.DictField(child=CurrentConsentSerializer())
    history = ConsentEntrySerializer(many=True)


class ConsentExportQuerySerializer(ExportQuerySerializer):
    purpose = serializers.SlugField(required=False, default="")


class RestrictionInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300)


class RestrictionOutputSerializer(serializers.Serializer):
    profile = serializers.UUIDField()
    restricted_at = serializers.DateTimeField(allow_null=True)
    changed = serializers.BooleanField(help_text="False when it already was in that state.")
