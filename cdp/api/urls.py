from django.urls import path

from cdp.api import erasure_views, subject_views, views

urlpatterns = [
    path("subjects/access", subject_views.SubjectAccessApi.as_view(), name="subject-access"),
    path("subjects/erasure", erasure_views.SubjectErasureApi.as_view(), name="subject-erasure"),
    path("records/batch", views.RecordBatchApi.as_view(), name="records-batch"),
    path("events/batch", views.EventBatchApi.as_view(), name="events-batch"),
    path("profiles/<uuid:profile_id>", views.ProfileDetailApi.as_view(), name="profile-detail"),
]
