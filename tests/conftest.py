"""Shared fixtures: sources, API keys, authenticated API clients, eager Celery."""

import pytest
from rest_framework.test import APIClient

from cdp.celery import app as celery_app
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


@pytest.fixture
def dpo_client(db) -> APIClient:
    return _client(["dpo"], "dpo-key")


@pytest.fixture
def celery_eager():
    """Run tasks in-process, as the demo does; restored afterwards for other tests."""
    saved = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = saved


@pytest.fixture(autouse=True)
def _seeded_purposes(request):
    """Tests that empty the database at their end (live server, transactional_db) also
    remove the purposes migration 0004 seeds; put them back for every database test."""
    import importlib

    names = set(request.fixturenames)
    if names & {"transactional_db", "live_server"}:
        request.getfixturevalue("transactional_db")
    elif "db" in names or request.node.get_closest_marker("django_db"):
        request.getfixturevalue("db")
    else:
        return
    from cdp.models import Purpose

    seeds = importlib.import_module("cdp.migrations.0004_append_only_triggers_and_purposes")
    for slug, name in seeds.PURPOSES:
        Purpose.objects.get_or_create(slug=slug, defaults={"name": name})


@pytest.fixture(autouse=True)
def _audit_connections_closed():
    """Audited reads served outside a transaction (live server, transactional_db) open a
    second connection per serving thread: closed after each test."""
    yield
    from cdp.audit_reads import writers_close

    writers_close()


def staff_login(client, username: str, *roles: str):
    """A staff user holding only these role groups (Role values or names), logged in on
    `client`; returns the user."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    user = get_user_model().objects.create_user(username, f"{username}@cdp.test",
                                                "pw-123456", is_staff=True)
    user.groups.add(*Group.objects.filter(name__in=[str(role) for role in roles]))
    client.force_login(user)
    return user
