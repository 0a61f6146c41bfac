"""create_api_key, and how settings start (or refuse to) with and without secrets."""

import hashlib
import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from rest_framework.test import APIClient

from cdp.models import ApiKey

REPO_ROOT = Path(__file__).resolve().parents[2]
SECRET_NAMES = ("SECRET_KEY", "CDP_ENCRYPTION_KEYS", "CDP_BLIND_INDEX_KEY")
SETUP = (
    "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'cdp.settings'; django.setup()"
)


def _create_key(*args: str) -> str:
    out = io.StringIO()
    call_command("create_api_key", *args, stdout=out)
    return out.getvalue().strip()


def test_printed_key_authenticates_and_only_its_hash_is_stored(source):
    """The printed key works against the API; the database holds its SHA-256, never the key."""
    raw = _create_key("partner", "--scopes", "ingest,read", "--rate", "100/min")
    assert raw.startswith("cdp_") and "\n" not in raw
    key = ApiKey.objects.get(name="partner")
    assert key.scopes == ["ingest", "read"] and key.rate == "100/min"
    assert key.key_hash == hashlib.sha256(raw.encode()).hexdigest()

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM cdp_apikey")
        dump = " ".join(str(v) for row in cursor.fetchall() for v in row)
        cursor.execute("SELECT details::text FROM cdp_auditevent")
        dump += " ".join(row[0] for row in cursor.fetchall())
    assert raw not in dump and raw.split("_", 2)[2] not in dump

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    response = client.post("/api/v1/records/batch",
                           {"source": "crm", "records": [{"external_id": "1", "city": "Nice"}]},
                           format="json")
    assert response.status_code == 200
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw[:-1]}x")
    assert client.post("/api/v1/records/batch", {}, format="json").status_code == 401


def test_default_scope_is_ingest(db):
    """Without --scopes the key may ingest but not read."""
    _create_key("default-scope")
    assert ApiKey.objects.get(name="default-scope").scopes == ["ingest"]


@pytest.mark.parametrize("scopes", ["ingest,superuser", "  ,  "])
def test_unknown_or_no_scope_is_a_command_error(db, scopes):
    """Scopes outside ingest/read/dpo/admin, or none at all, are refused and nothing is made."""
    with pytest.raises(CommandError):
        _create_key("bad-scope", "--scopes", scopes)
    assert not ApiKey.objects.filter(name="bad-scope").exists()


def test_duplicate_name_is_a_command_error(db):
    """A second key with an existing name is refused with a clear message."""
    _create_key("twice")
    with pytest.raises(CommandError, match="already exists"):
        _create_key("twice")


def _django_setup(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", SETUP], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def _env_without_secrets(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in SECRET_NAMES and k != "DJANGO_SETTINGS_MODULE"}
    env.update(extra)
    return env


def test_production_settings_refuse_to_start_without_secrets(tmp_path):
    """With DEBUG off and no secrets, setup fails naming every missing variable."""
    done = _django_setup(_env_without_secrets(DEBUG="0", CDP_VAR_DIR=str(tmp_path)))
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr
    for name in SECRET_NAMES:
        assert name in done.stderr
    assert not (tmp_path / "secrets.json").exists()


def test_production_settings_name_only_the_missing_secret(tmp_path):
    """With one secret missing, the error names that one."""
    env = _env_without_secrets(DEBUG="0", CDP_VAR_DIR=str(tmp_path))
    env["SECRET_KEY"] = os.environ["SECRET_KEY"]
    env["CDP_ENCRYPTION_KEYS"] = os.environ["CDP_ENCRYPTION_KEYS"]
    done = _django_setup(env)
    assert done.returncode != 0
    reason = done.stderr.strip().splitlines()[-1]
    assert "CDP_BLIND_INDEX_KEY" in reason
    assert "SECRET_KEY" not in reason and "CDP_ENCRYPTION_KEYS" not in reason


def test_debug_settings_generate_private_demo_secrets(tmp_path):
    """With DEBUG on and no secrets, setup succeeds and writes var/secrets.json as 0600."""
    var = tmp_path / "var"
    done = _django_setup(_env_without_secrets(DEBUG="1", CDP_VAR_DIR=str(var)))
    assert done.returncode == 0, done.stderr
    path = var / "secrets.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    values = json.loads(path.read_text())
    assert set(values) == set(SECRET_NAMES)
    assert len(values["CDP_BLIND_INDEX_KEY"]) >= 32
    # A second start reuses the same secrets (otherwise stored data would become unreadable).
    assert _django_setup(_env_without_secrets(DEBUG="1", CDP_VAR_DIR=str(var))).returncode == 0
    assert json.loads(path.read_text()) == values


@pytest.mark.parametrize("rate", ["1000", "10/x", "fast", "0/min"])
def test_malformed_key_rate_is_refused_at_creation(db, rate):
    """A rate the throttle could not parse is refused up front (it would 500 every call)."""
    with pytest.raises(CommandError, match="rate must look like"):
        call_command("create_api_key", f"k-{rate}", "--scopes", "read", "--rate", rate,
                     stdout=io.StringIO())
