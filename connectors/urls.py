"""URL patterns of the connectors API (under /api/v1/)."""

from django.urls import path

from connectors import api

urlpatterns = [
    path("destinations/", api.DestinationListApi.as_view(), name="destination-list"),
    path("destinations/<int:pk>", api.DestinationDetailApi.as_view(), name="destination-detail"),
    path("destinations/<int:pk>/webhooks/mailchimp", api.MailchimpWebhookApi.as_view(),
         name="destination-webhook-mailchimp"),
    path("syncs/", api.SyncListApi.as_view(), name="sync-list"),
    path("syncs/<int:pk>", api.SyncDetailApi.as_view(), name="sync-detail"),
    path("syncs/<int:pk>/run", api.SyncRunApi.as_view(), name="sync-run"),
    path("syncs/<int:pk>/runs", api.SyncRunsApi.as_view(), name="sync-runs"),
    path("erasure-deliveries", api.ErasureDeliveryExportApi.as_view(),
         name="erasure-deliveries-export"),
]
