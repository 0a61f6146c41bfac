"""Request/response shapes. Batch items are validated by the ingestion services (one pass,
per-item errors); these serializers describe them for the OpenAPI schema."""

from rest_framework import serializers

from cdp.fields import MAX_LENGTH, STANDARD_FIELDS


class RecordItemSerializer(serializers.Serializer):
    external_id = serializers.CharField(max_length=255)
    attributes = serializers.DictField(required=False, help_text="Custom attributes (merged).")


for _name in STANDARD_FIELDS:
    RecordItemSerializer._declared_fields[_name] = serializers.CharField(
        max_length=MAX_LENGTH[_name], required=False, allow_null=True
    )


class RecordBatchSerializer(serializers.Serializer):
    source = serializers.SlugField(help_text="Name of an existing source.")
    records = RecordItemSerializer(many=True, max_length=5000)


class EventItemSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=200, help_text="Idempotency id, unique per source.")
    type = serializers.CharField(max_length=64)
    occurred_at = serializers.DateTimeField()
    value = serializers.DecimalField(max_digits=14, decimal_places=4, required=False)
    properties = serializers.DictField(required=False)
    email = serializers.CharField(required=False)
    phone = serializers.CharField(required=False)
    customer_id = serializers.CharField(required=False)
    external_id = serializers.CharField(required=False, help_text="A record of the same source.")


class EventBatchSerializer(serializers.Serializer):
    source = serializers.SlugField()
    events = EventItemSerializer(many=True, max_length=10000)


class ItemErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField(allow_null=True)
    field = serializers.CharField(allow_null=True)
    message = serializers.CharField()


class BatchReportSerializer(serializers.Serializer):
    received = serializers.IntegerField()
    accepted = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    errors = ItemErrorSerializer(many=True)


class ProfileRecordSerializer(serializers.Serializer):
    source = serializers.CharField()
    external_id = serializers.CharField()
    implicit = serializers.BooleanField()
    attributes = serializers.DictField()
    received_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


for _name in STANDARD_FIELDS:
    ProfileRecordSerializer._declared_fields[_name] = serializers.CharField(allow_null=True)


class ProfileSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    records = ProfileRecordSerializer(many=True)
    event_count = serializers.IntegerField()
    last_event_at = serializers.DateTimeField(allow_null=True)
