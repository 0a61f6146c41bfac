"""GET /health/?format=json: database and Redis checks, and a broken Redis named as such.

django-health-check answers a JSON object {repr(check): "OK" | "<kind>: <message>"}
with HTTP 200 when every check passes and 500 otherwise. The Celery ping is exercised
with a real worker in test_celery_worker.py; here no worker runs, so it may fail.
"""

import pytest

URL = "/health/?format=json"


def _by_check(body: dict[str, str]) -> dict[str, str]:
    """Key the results by check class name; the reprs carry connection details."""
    return {name.split("(", 1)[0]: status for name, status in body.items()}


@pytest.fixture
def health(client, db):
    def get():
        response = client.get(URL)
        assert response["Content-Type"] == "application/json"
        return response, _by_check(response.json())

    return get


def test_database_and_redis_report_ok(health):
    response, checks = health()
    assert set(checks) == {"Database", "Redis", "Ping"}
    assert checks["Database"] == "OK"
    assert checks["Redis"] == "OK"
    # Without a worker only the Celery ping may fail, and a failure means HTTP 500.
    assert response.status_code == (200 if checks["Ping"] == "OK" else 500)
    names = response.json()
    redis_name = next(name for name in names if name.startswith("Redis("))
    assert "db=" in redis_name and "port=" in redis_name


def test_broken_redis_answers_500_and_names_redis(health, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response, checks = health()
    assert response.status_code == 500
    assert checks["Database"] == "OK"
    assert checks["Redis"].startswith("Unavailable: Unable to connect to Redis")
    assert any(name.startswith("Redis(") and "port=1" in name for name in response.json())


def test_embedded_demo_without_redis_checks_only_the_database(health, settings):
    settings.REDIS_URL = ""
    response, checks = health()
    assert response.status_code == 200
    assert checks == {"Database": "OK"}
