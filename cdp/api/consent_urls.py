"""URL patterns of the consent ledger and restriction API."""

from django.urls import path

from cdp.api import consent_views as views

urlpatterns = [
    path("consents/batch", views.ConsentBatchApi.as_view(), name="consents-batch"),
    path("consents/export", views.ConsentExportApi.as_view(), name="consents-export"),
    path("profiles/<uuid:profile_id>/consents", views.ProfileConsentsApi.as_view(),
         name="profile-consents"),
    path("profiles/<uuid:profile_id>/restriction", views.ProfileRestrictionApi.as_view(),
         name="profile-restriction"),
]
