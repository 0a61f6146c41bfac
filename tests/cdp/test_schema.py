"""OpenAPI schema and Swagger UI: public, complete, and served without any CDN."""

import re

from django.contrib.staticfiles import finders
from django.templatetags.static import static

ENDPOINTS = {
    "/api/v1/records/batch": "post",
    "/api/v1/events/batch": "post",
    "/api/v1/profiles/{profile_id}": "get",
}


def test_schema_is_served_without_authentication(client, db):
    """GET /api/schema/ answers 200 to an anonymous caller (drf-spectacular's AllowAny)."""
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200


def test_schema_lists_the_three_endpoints(client, db):
    """The schema documents the records, events and profile endpoints and the API-key auth."""
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert set(ENDPOINTS) <= set(schema["paths"])
    for path, method in ENDPOINTS.items():
        assert method in schema["paths"][path], path
    scheme = schema["components"]["securitySchemes"]["ApiKey"]
    assert scheme["type"] == "apiKey" and scheme["name"] == "Authorization"


def test_schema_default_format_is_yaml(client, db):
    """Without an Accept header the schema comes as OpenAPI YAML naming the same paths."""
    response = client.get("/api/schema/")
    assert response.status_code == 200
    text = response.content.decode()
    assert text.startswith("openapi: 3")
    for path in ENDPOINTS:
        assert f"{path}:" in text


def test_docs_page_uses_only_local_assets(client, db):
    """Swagger UI's scripts, styles and icon come from our static files, never a CDN."""
    response = client.get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assets = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']+)["\']', page)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    assert any(a.endswith("swagger-ui.css") for a in assets)
    prefix = static("drf_spectacular_sidecar/")
    for asset in assets:
        assert asset.startswith(prefix), asset
        # The file really ships with drf_spectacular_sidecar, so collectstatic can serve it.
        assert finders.find(asset.removeprefix(static(""))), asset
    assert "cdn" not in page.lower()
    assert not re.search(r"https?://", page)
