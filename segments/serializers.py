"""Segment API shapes. The definition is validated by segments.rules (JSON paths)."""

from django.utils import timezone
from rest_framework import serializers

from segments.models import Segment, SegmentMembership, SegmentRun


class SegmentInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    slug = serializers.SlugField(max_length=80)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    definition = serializers.JSONField()
    schedule = serializers.CharField(required=False, allow_blank=True, default="0 * * * *")
    enabled = serializers.BooleanField(required=False, default=True)


class SegmentOutputSerializer(serializers.ModelSerializer):
    depends_on = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    freshness_seconds = serializers.SerializerMethodField(
        help_text="Seconds since the last successful run (null: never ran)."
    )

    def get_freshness_seconds(self, segment: Segment) -> int | None:
        if segment.last_success_at is None:
            return None
        return int((timezone.now() - segment.last_success_at).total_seconds())

    class Meta:
        model = Segment
        fields = ["id", "name", "slug", "description", "definition", "schema_version",
                  "schedule", "enabled", "event_types", "depends_on", "size",
                  "last_success_at", "freshness_seconds", "created_at", "updated_at"]


class PreviewInputSerializer(serializers.Serializer):
    definition = serializers.JSONField()


class MembershipSerializer(serializers.ModelSerializer):
    class Meta:
        model = SegmentMembership
        fields = ["profile_id", "entered_at", "exited_at"]


class RunSerializer(serializers.ModelSerializer):
    class Meta:
        model = SegmentRun
        fields = ["id", "status", "trigger", "started_at", "finished_at", "size", "added",
                  "removed", "duration_ms", "jaccard", "warnings", "error"]
