from django.urls import path

from cdp.api import views

urlpatterns = [
    path("records/batch", views.RecordBatchApi.as_view(), name="records-batch"),
    path("events/batch", views.EventBatchApi.as_view(), name="events-batch"),
    path("profiles/<uuid:profile_id>", views.ProfileDetailApi.as_view(), name="profile-detail"),
]
