from django.urls import path

from segments import api

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
]
