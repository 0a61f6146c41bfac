from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from cdp.health import CdpHealthView

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/ui/", include("cdp.ui.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("cdp.api.urls")),
    path("api/v1/", include("cdp.api.audit_urls")),
    path("api/v1/", include("cdp.api.consent_urls")),
    path("api/v1/", include("segments.urls")),
    path("api/v1/", include("connectors.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    path("health/", CdpHealthView.as_view(), name="health"),
]
