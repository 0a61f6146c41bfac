"""Admin of model-based segments: definitions (validated by the same service as the API),
versions with their metrics, charts and cluster profiles, train / score / activate."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin, TabularInline

from segments.ml import spec
from segments.models import ModelScoringRun, ModelVersion, SegmentModel


class SegmentModelForm(forms.ModelForm):
    class Meta:
        model = SegmentModel
        fields = ["name", "slug", "description", "kind", "algorithm", "features", "params",
                  "population", "requires_consent", "train_schedule", "enabled"]
        help_texts = {
            "features": _('e.g. {"traits": ["purchase_count", "avg_basket"], "attributes": '
                          '["region"], "scaling": "standard", "log": true}'),
            "params": _("training knobs; empty for the defaults (see README)"),
            "population": _("clustering only: a rule tree of who is clustered, {} for "
                            "everyone"),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Left empty, both take the kind's defaults.
        self.fields["algorithm"].required = False
        self.fields["features"].required = False

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind = data.get("kind")
        if not kind:
            return data
        if not data.get("algorithm"):
            data["algorithm"] = spec.default_algorithm(kind)
        if not data.get("features"):
            data["features"] = spec.default_features(kind)
        errors = spec.model_errors(kind=kind, algorithm=data["algorithm"],
                                   features=data["features"], params=data.get("params") or {},
                                   population=data.get("population") or {})
        for path, message in errors:
            field = path.split(".")[0].split("[")[0]
            self.add_error(field if field in self.fields else None, f"{path}: {message}")
        return data


class VersionInline(TabularInline):
    model = ModelVersion
    fields = ["number", "status", "is_active", "algorithm", "headline", "finished_at",
              "warnings"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True
    ordering = ["-number"]

    @admin.display(description=_("metrics"))
    def headline(self, version: ModelVersion) -> str:
        return headline(version)


def headline(version: ModelVersion) -> str:
    m = version.metrics or {}
    if "test_auc" in m:
        return (f"AUC {m['test_auc']:.3f} (recency {m['baseline']['test_auc']:.3f}), "
                f"Brier {m['brier']:.3f}")
    if "clusters" in m:
        return (f"{m['clusters']} clusters, silhouette {m.get('silhouette')}, "
                f"ARI {m.get('stability', {}).get('ari_mean')}")
    return version.error[:80]


@admin.register(SegmentModel)
class SegmentModelAdmin(ModelAdmin):
    form = SegmentModelForm
    list_display = ["name", "slug", "kind", "algorithm", "active", "train_schedule", "enabled"]
    list_filter = ["kind", "enabled"]
    search_fields = ["name", "slug"]
    inlines = [VersionInline]
    actions = ["train_now", "score_now"]

    @admin.display(description=_("active version"))
    def active(self, model: SegmentModel) -> str:
        version = model.versions.filter(is_active=True).defer("artifact", "charts").first()
        return f"v{version.number}: {headline(version)}" if version else "-"

    def save_model(self, request: HttpRequest, obj: SegmentModel, form: Any,
                   change: bool) -> None:
        from segments.ml.registry import segment_model_save

        data = form.cleaned_data
        saved = segment_model_save(
            actor=f"user:{request.user.get_username()}", model=obj if change else None,
            **{k: data.get(k) for k in ("name", "slug", "kind", "algorithm", "features",
                                        "params", "population")},
            requires_consent=data.get("requires_consent", True),
            train_schedule=data.get("train_schedule", ""), enabled=data.get("enabled", True),
            description=data.get("description", ""))
        obj.pk = saved.pk

    @admin.action(description=_("Train a new version now"))
    def train_now(self, request: HttpRequest, queryset: Any) -> None:
        from segments.tasks import segment_model_train_task

        for model in queryset:
            segment_model_train_task.delay(model.pk, "manual")
        self.message_user(request, _("%(n)s model(s) queued for training")
                          % {"n": queryset.count()})

    @admin.action(description=_("Score every profile now"))
    def score_now(self, request: HttpRequest, queryset: Any) -> None:
        from segments.tasks import segment_model_score_task

        for model in queryset:
            segment_model_score_task.delay(model.pk, "manual")
        self.message_user(request, _("%(n)s model(s) queued for scoring")
                          % {"n": queryset.count()})


class ScoringRunInline(TabularInline):
    model = ModelScoringRun
    fields = ["started_at", "status", "trigger", "profiles", "duration_ms", "psi",
              "warnings", "error"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    ordering = ["-started_at"]


# Column headers of a version's cluster table.
CLUSTER_COLUMNS = (_("group"), _("name"), _("size"), _("share"), _("stands out by"),
                   _("means (all)"))
# Chart names (segments.ml.clustering / predictive) as people read them.
CHART_TITLES = {
    "elbow": _("Elbow: inertia per number of groups"),
    "silhouette": _("Choosing the number of groups"),
    "bic": _("Gaussian mixture: BIC"),
    "k_distance": _("DBSCAN: distance to the k-th neighbour"),
    "sizes": _("Group sizes"),
    "roc": _("ROC curve"),
    "calibration": _("Calibration"),
    "comparison": _("Candidates compared"),
}
# Scalar metrics shown in the metrics card, in this order, with their names.
METRIC_LABELS = {
    "test_auc": _("ROC AUC on the test share"),
    "brier": _("Brier score (lower is better)"),
    "brier_base_rate": _("Brier score of always answering the base rate"),
    "positive_rate": _("Share of positives"),
    "chosen": _("Chosen classifier"),
    "calibration": _("Calibration method"),
    "clusters": _("Groups"),
    "k": _("Number of groups chosen"),
    "silhouette": _("Silhouette (higher is better)"),
    "davies_bouldin": _("Davies-Bouldin (lower is better)"),
    "noise_share": _("Share of outliers"),
    "rows": _("Profiles used"),
    "test_rows": _("Profiles in the test share"),
    "sample_rows": _("Profiles in the sample"),
}


def metric_rows(metrics: dict[str, Any]) -> list[tuple[str, Any]]:
    """The metrics a person reads (named, scalar), then the baseline and stability."""
    rows = [(str(label), metrics[key]) for key, label in METRIC_LABELS.items()
            if isinstance(metrics.get(key), str | int | float)]
    baseline = metrics.get("baseline") or {}
    if "test_auc" in baseline:
        rows.insert(1, (str(_("ROC AUC of recency alone (baseline)")), baseline["test_auc"]))
    stability = metrics.get("stability") or {}
    if "ari_mean" in stability:
        rows.append((str(_("Stability (mean adjusted Rand index)")), stability["ari_mean"]))
    return rows


def version_charts(version: ModelVersion) -> list[dict[str, Any]]:
    """The version's SVG charts with their titles (our own SVG: every text escaped)."""
    return [{"name": name, "title": CHART_TITLES.get(name, name),
             "svg": mark_safe(svg)}  # noqa: S308 - drawn by segments.ml.charts
            for name, svg in (version.charts or {}).items()]


def _key_values(values: dict[str, Any]) -> SafeString:
    rows = format_html_join(
        "", "<tr><td style='padding-right:1em'>{}</td><td>{}</td></tr>",
        ((key, value if isinstance(value, str | int | float) else json.dumps(value))
         for key, value in sorted(values.items())))
    return format_html("<table>{}</table>", rows)


@admin.register(ModelVersion)
class ModelVersionAdmin(ModelAdmin):
    """Read-only evidence; marketers may name the clusters. Metrics and charts are shown
    in cards below the form (segments/ml/model_version_charts.html)."""

    list_display = ["__str__", "status", "is_active", "algorithm", "finished_at", "metrics_"]
    list_filter = ["status", "is_active", "model"]
    fields = ["model", "number", "status", "is_active", "algorithm", "finished_at",
              "duration_ms", "metrics_", "drift_", "warnings_", "error",
              "clusters_", "cluster_names", "params_", "artifact_sha256"]
    readonly_fields = [f for f in fields if f != "cluster_names"]
    inlines = [ScoringRunInline]
    actions = ["activate"]
    change_form_outer_before_template = "segments/ml/model_version_charts.html"

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("model").defer("artifact")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is not None and not obj.clusters:  # a predictive model has no clusters
            return [f for f in self.fields if f not in ("clusters_", "cluster_names")]
        return list(self.fields)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The record of what was trained and used stays (a model's deletion removes it).
        return False

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> Any:
        version = self.get_object(request, object_id)
        if version is not None:
            extra_context = {**(extra_context or {}),
                             "version_metrics": metric_rows(version.metrics or {}),
                             "version_charts": version_charts(version)}
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description=_("metrics"))
    def metrics_(self, version: ModelVersion) -> str:
        return headline(version)

    @admin.display(description=_("drift"))
    def drift_(self, version: ModelVersion) -> SafeString | str:
        return _key_values(version.drift or {}) if version.drift else "—"

    @admin.display(description=_("warnings"))
    def warnings_(self, version: ModelVersion) -> SafeString | str:
        if not version.warnings:
            return "—"
        return format_html("<ul>{}</ul>", format_html_join(
            "", "<li>{}</li>", ((w,) for w in version.warnings)))

    @admin.display(description=_("parameters"))
    def params_(self, version: ModelVersion) -> SafeString:
        return _key_values(version.params or {})

    @admin.display(description=_("clusters"))
    def clusters_(self, version: ModelVersion) -> SafeString:
        rows = []
        for cluster in version.clusters:
            means = ", ".join(f"{f['feature']} {f['mean']} ({f['overall']})"
                              for f in cluster["features"] if "mean" in f)
            rows.append((cluster["cluster"], version.cluster_names.get(str(cluster["cluster"]),
                                                                       ""),
                         cluster["size"], f"{cluster['share']:.1%}",
                         "; ".join(cluster["highlights"]), means))
        cell = "<td style='padding:4px 8px;vertical-align:top'>{}</td>"
        body = format_html_join("", "<tr>" + cell * 6 + "</tr>", rows)
        head = format_html_join("", "<th style='padding:4px 8px;text-align:left'>{}</th>",
                                ((name,) for name in CLUSTER_COLUMNS))
        return format_html("<table><tr>{}</tr>{}</table>", head, body)

    def save_model(self, request: HttpRequest, obj: ModelVersion, form: Any,
                   change: bool) -> None:
        from segments.ml.registry import SegmentModelInvalid, cluster_names_set

        try:
            cluster_names_set(version=obj, actor=f"user:{request.user.get_username()}",
                              names={str(k): str(v) for k, v in
                                     (form.cleaned_data.get("cluster_names") or {}).items()})
        except SegmentModelInvalid as exc:
            self.message_user(request, str(exc), messages.ERROR)

    @admin.action(description=_("Make this version active (and score)"))
    def activate(self, request: HttpRequest, queryset: Any) -> None:
        from segments.ml.registry import model_version_activate

        for version in queryset.filter(status=ModelVersion.Status.READY):
            model_version_activate(version=version,
                                   actor=f"user:{request.user.get_username()}")
        self.message_user(request, _("Activated; scoring queued."))
