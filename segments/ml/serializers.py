"""API shapes of models, versions and scoring runs (the artifact never leaves the server)."""

from typing import Any

from django.urls import reverse
from rest_framework import serializers

from segments.models import ModelScoringRun, ModelVersion, SegmentModel


class SegmentModelInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    slug = serializers.SlugField(max_length=80)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    kind = serializers.ChoiceField(choices=SegmentModel.Kind.choices)
    algorithm = serializers.CharField(required=False, allow_blank=True, default="")
    features = serializers.JSONField(required=False, default=None)
    params = serializers.JSONField(required=False, default=dict)
    population = serializers.JSONField(required=False, default=dict)
    requires_consent = serializers.BooleanField(required=False, default=True)
    train_schedule = serializers.CharField(required=False, allow_blank=True,
                                           default="0 5 * * 1")
    enabled = serializers.BooleanField(required=False, default=True)


def _chart_urls(version: ModelVersion) -> dict[str, str]:
    return {name: reverse("segment-model-chart", args=[version.model.slug, version.number,
                                                       name])
            for name in sorted(version.charts or {})}


class VersionSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = ModelVersion
        fields = ["number", "status", "is_active", "trigger", "algorithm", "started_at",
                  "finished_at", "duration_ms", "warnings", "drift", "error"]


class VersionSerializer(serializers.ModelSerializer):
    charts = serializers.SerializerMethodField(help_text="chart name -> SVG URL")

    def get_charts(self, version: ModelVersion) -> dict[str, str]:
        return _chart_urls(version)

    class Meta:
        model = ModelVersion
        fields = ["number", "status", "is_active", "trigger", "algorithm", "started_at",
                  "finished_at", "duration_ms", "params", "metrics", "clusters",
                  "cluster_names", "drift", "warnings", "error", "artifact_sha256", "charts"]


class SegmentModelOutputSerializer(serializers.ModelSerializer):
    active_version = serializers.SerializerMethodField()

    def get_active_version(self, model: SegmentModel) -> dict[str, Any] | None:
        active = getattr(model, "active_versions", None)
        if active is None:
            active = [v for v in model.versions.all() if v.is_active]
        return VersionSummarySerializer(active[0]).data if active else None

    class Meta:
        model = SegmentModel
        fields = ["id", "name", "slug", "description", "kind", "algorithm", "features",
                  "params", "population", "requires_consent", "train_schedule", "enabled",
                  "active_version", "created_at", "updated_at"]


class ClusterNamesSerializer(serializers.Serializer):
    cluster_names = serializers.DictField(child=serializers.CharField(max_length=80,
                                                                      allow_blank=True))


class ScoringRunSerializer(serializers.ModelSerializer):
    version = serializers.IntegerField(source="version.number")

    class Meta:
        model = ModelScoringRun
        fields = ["id", "version", "status", "trigger", "started_at", "finished_at",
                  "profiles", "duration_ms", "psi", "warnings", "error"]
