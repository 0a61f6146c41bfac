"""Shared fixtures: sources, API keys and an authenticated API client."""

import pytest
from rest_framework.test import APIClient

from cdp.models import Source
from cdp.services.api_keys import api_key_create


@pytest.fixture
def source(db) -> Source:
    return Source.objects.create(name="crm", kind=Source.Kind.CRM)


@pytest.fixture
def shop(db) -> Source:
    return Source.objects.create(name="shop", kind=Source.Kind.SHOP)


def _client(scopes: list[str], name: str) -> APIClient:
    _, raw = api_key_create(name=name, scopes=scopes)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


@pytest.fixture
def ingest_client(db) -> APIClient:
    return _client(["ingest"], "ingest-key")


@pytest.fixture
def read_client(db) -> APIClient:
    return _client(["read"], "read-key")
