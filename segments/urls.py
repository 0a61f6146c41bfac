from django.urls import path

from segments import api
from segments.ml import api as models_api

urlpatterns = [
    path("segments/", api.SegmentListApi.as_view(), name="segment-list"),
    path("segments/preview", api.SegmentPreviewApi.as_view(), name="segment-preview"),
    path("segments/schema", api.RuleSchemaApi.as_view(), name="segment-rule-schema"),
    path("segments/<int:pk>", api.SegmentDetailApi.as_view(), name="segment-detail"),
    path("segments/<int:pk>/members", api.SegmentMembersApi.as_view(), name="segment-members"),
    path("segments/<int:pk>/history", api.SegmentHistoryApi.as_view(), name="segment-history"),
    path("segments/<int:pk>/runs", api.SegmentRunsApi.as_view(), name="segment-runs"),
    path("segments/<int:pk>/evaluate", api.SegmentEvaluateApi.as_view(),
         name="segment-evaluate"),
    path("segments/<int:pk>/explain/<uuid:profile_id>", api.SegmentExplainApi.as_view(),
         name="segment-explain"),
    path("models/", models_api.SegmentModelListApi.as_view(), name="segment-model-list"),
    path("models/<slug:slug>", models_api.SegmentModelDetailApi.as_view(),
         name="segment-model-detail"),
    path("models/<slug:slug>/train", models_api.SegmentModelTrainApi.as_view(),
         name="segment-model-train"),
    path("models/<slug:slug>/score", models_api.SegmentModelScoreApi.as_view(),
         name="segment-model-score"),
    path("models/<slug:slug>/clusters", models_api.SegmentModelClustersApi.as_view(),
         name="segment-model-clusters"),
    path("models/<slug:slug>/runs", models_api.SegmentModelRunsApi.as_view(),
         name="segment-model-runs"),
    path("models/<slug:slug>/versions", models_api.ModelVersionListApi.as_view(),
         name="segment-model-versions"),
    path("models/<slug:slug>/versions/<int:number>", models_api.ModelVersionDetailApi.as_view(),
         name="segment-model-version"),
    path("models/<slug:slug>/versions/<int:number>/activate",
         models_api.ModelVersionActivateApi.as_view(), name="segment-model-activate"),
    path("models/<slug:slug>/versions/<int:number>/charts/<slug:name>.svg",
         models_api.ModelVersionChartApi.as_view(), name="segment-model-chart"),
]
