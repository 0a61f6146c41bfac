"""A real Celery worker on this machine's Redis runs the key rotation the app enqueues.

The worker is a subprocess on the pytest test database (committed data, hence
transactional_db) and the same broker as this process. It consumes only a queue named
for this run, so messages left over by other runs or processes can never reach it.
"""

import base64
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection
from django.test import override_settings

from cdp.celery import app
from cdp.fields import ENCRYPTED_FIELDS, enc_column
from cdp.models import DataKey, Source, SourceRecord
from cdp.privacy.crypto import decrypt, needs_rotation
from cdp.privacy.datakeys import record_key
from cdp.services.record_parsing import record_parse
from cdp.services.records import records_upsert
from cdp.tasks import rotate_keys_task

REPO_ROOT = Path(__file__).resolve().parents[2]
OLD_KEY = base64.urlsafe_b64encode(os.urandom(32)).decode()
NEW_KEY = base64.urlsafe_b64encode(os.urandom(32)).decode()
ROTATED_KEYS = f"{NEW_KEY},{OLD_KEY}"
HEALTH_URL = "/health/?format=json"

RAW_RECORDS = [
    {"external_id": "c1", "first_name": "Élodie", "last_name": "Martin",
     "email": "elodie.martin@example.fr", "phone": "06 12 34 56 78",
     "birth_date": "1990-04-12", "address_line1": "12 rue de la Paix",
     "customer_id": "CUST-001", "city": "Lyon"},
    {"external_id": "c2", "first_name": "Jean", "last_name": "Dupont",
     "email": "jean.dupont@example.org", "address_line2": "Bâtiment B"},
    {"external_id": "c3", "last_name": "Durand", "customer_id": "CUST-003"},
]


@dataclass
class Worker:
    process: subprocess.Popen
    nodename: str
    queue: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # warm shutdown
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def _test_database_url() -> str:
    """The database pytest-django created ("test_<name>"), as a URL for the worker."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    return f"postgres://{credentials}@{host}/{quote(db['NAME'], safe='')}"


def _worker_env() -> dict[str, str]:
    env = dict(os.environ)
    # tests/settings.py exported these; the worker must share them with this process.
    for name in ("REDIS_URL", "SECRET_KEY", "CDP_BLIND_INDEX_KEY"):
        assert env.get(name), f"{name} missing from the environment"
    env.update(
        DJANGO_SETTINGS_MODULE="cdp.settings",
        DEBUG="0",
        DATABASE_URL=_test_database_url(),
        CDP_ENCRYPTION_KEYS=ROTATED_KEYS,
        PYTHONUNBUFFERED="1",
    )
    return env


def _wait_until_ready(worker: Worker, deadline_s: float = 30) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if worker.process.poll() is not None:
            pytest.fail(f"worker exited with {worker.process.returncode}:\n{worker.log()}")
        if app.control.ping(destination=[worker.nodename], timeout=0.5):
            return
        time.sleep(0.2)
    pytest.fail(f"worker not ready after {deadline_s} s:\n{worker.log()}")


@pytest.fixture
def worker_queue() -> Iterator[str]:
    """Route the app's tasks (and the health check's queue check) to a queue of our own."""
    queue = f"cdp-test-{uuid.uuid4().hex[:12]}"
    previous = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    try:
        yield queue
    finally:
        app.conf.task_default_queue = previous
        # Declare, then delete: a fresh channel only unbinds what it knows is bound, and
        # the queue's binding keys would otherwise stay in Redis after every run.
        with app.connection_for_write() as conn:
            bound = app.amqp.queues[queue].bind(conn.default_channel)
            bound.declare()
            bound.delete()


@pytest.fixture
def celery_worker(transactional_db, worker_queue, tmp_path) -> Iterator[Worker]:
    assert not app.conf.task_always_eager, "REDIS_URL must be set for a real broker"
    nodename = f"{worker_queue}@pytest"
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "cdp", "worker",
             "--pool", "solo", "--concurrency", "1", "-l", "info",
             "--without-gossip", "--without-mingle", "--without-heartbeat",
             "-Q", worker_queue, "-n", nodename],
            cwd=REPO_ROOT, env=_worker_env(), stdout=log, stderr=subprocess.STDOUT,
        )
    worker = Worker(process, nodename, worker_queue, log_path)
    try:
        _wait_until_ready(worker)
        yield worker
    finally:
        worker.stop()


def _plaintexts(rec: SourceRecord) -> dict[str, str | None]:
    key = record_key(rec)
    values = {f: decrypt(getattr(rec, enc_column(f)), field=f, key=key) for f in ENCRYPTED_FIELDS}
    values["match"] = decrypt(rec.match_enc, field="match", key=key)
    return values


def _stale_keys() -> list:
    return [pk for pk, wrapped in DataKey.objects.values_list("pk", "wrapped")
            if needs_rotation(wrapped)]


def _health(client) -> tuple[int, dict[str, str]]:
    response = client.get(HEALTH_URL)
    return response.status_code, {k.split("(", 1)[0]: v for k, v in response.json().items()}


def test_worker_rotates_keys_enqueued_by_the_app(celery_worker, client):
    source = Source.objects.create(name="crm", kind=Source.Kind.CRM)
    parsed = [record_parse(raw, strict=True) for raw in RAW_RECORDS]
    assert all(p.record for p in parsed), [p.issues for p in parsed]
    with override_settings(CDP_ENCRYPTION_KEYS=OLD_KEY):
        records_upsert(source=source, records=[p.record for p in parsed])
        before = {r.external_id: _plaintexts(r) for r in SourceRecord.objects.all()}
    assert {ext: {k: v for k, v in values.items() if k in ENCRYPTED_FIELDS}
            for ext, values in before.items()} == {
        p.record.external_id: {f: p.record.values.get(f) for f in ENCRYPTED_FIELDS}
        for p in parsed
    }

    with override_settings(CDP_ENCRYPTION_KEYS=ROTATED_KEYS):
        assert len(_stale_keys()) == 3, "data keys should start under the old key"

        status, checks = _health(client)
        assert (status, checks) == (200, {"Database": "OK", "Redis": "OK", "Ping": "OK"}), (
            celery_worker.log()
        )

        started = time.monotonic()
        result = rotate_keys_task.delay()
        try:
            outcome = result.get(timeout=60)
        except Exception as exc:
            pytest.fail(f"rotation task failed: {exc!r}\n{celery_worker.log()}")
        result.forget()
        assert outcome == {"scanned": 3, "rotated": 3}, celery_worker.log()
        assert time.monotonic() - started < 30
        assert f"Task cdp.tasks.rotate_keys_task[{result.id}] succeeded" in celery_worker.log()

        assert _stale_keys() == []
        assert {r.external_id: _plaintexts(r) for r in SourceRecord.objects.all()} == before

    with override_settings(CDP_ENCRYPTION_KEYS=NEW_KEY):
        # The old key can be retired: everything decrypts under the new one alone.
        assert {r.external_id: _plaintexts(r) for r in SourceRecord.objects.all()} == before

    celery_worker.stop()
    status, checks = _health(client)
    assert status == 500
    assert checks["Ping"].startswith("Unavailable"), json.dumps(checks)
    assert checks["Database"] == checks["Redis"] == "OK"
