"""Connector commands: create_destination (secrets from the environment only),
create_sync, run_sync (counters printed) and export_erasure_deliveries; bad input is a
one-line error and a non-zero exit."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from cdp.models import AuditEvent
from cdp.services.erasure import subject_erase
from connectors.models import AudienceSync, Destination, SyncRun
from connectors.registry import credentials_open
from tests.connectors.conftest import LIST_ID, TAG

REPO_ROOT = Path(__file__).resolve().parents[2]


def _call(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def _refused(*args: str) -> str:
    with pytest.raises(CommandError) as caught:
        _call(*args)
    message = str(caught.value)
    assert "\n" not in message and message
    return message


def test_create_destination_reads_the_key_from_the_environment(db, mailchimp, monkeypatch):
    """The key comes from the named variable, is sealed and is never printed."""
    monkeypatch.setenv("MC_KEY_FOR_TEST", mailchimp.api_key)
    out = _call("create_destination", "mc-cli", "--kind", "mailchimp", "--purpose",
                "email_marketing", "--api-key-env", "MC_KEY_FOR_TEST",
                "--base-url", mailchimp.base_url_template, "--mapping",
                '{"FNAME": "first_name"}', "--rate", "5", "--concurrency", "3",
                "--batch-size", "100")
    destination = Destination.objects.get(name="mc-cli")
    assert out.startswith(f"destination mc-cli created (id {destination.pk}")
    assert f"?token={destination.inbound_token}" in out
    assert mailchimp.api_key not in out
    assert credentials_open(destination) == {"api_key": mailchimp.api_key}
    assert (destination.rate_per_s, destination.max_concurrency, destination.batch_size) == (
        5.0, 3, 100)
    assert destination.field_mapping == {"FNAME": "first_name"}
    assert AuditEvent.objects.filter(action="destination.create",
                                     actor__startswith="command:").exists()


def test_create_destination_webhook(db, monkeypatch):
    monkeypatch.setenv("HOOK_SECRET_FOR_TEST", "whsec-123")
    _call("create_destination", "hook", "--kind", "webhook", "--purpose", "email_marketing",
          "--secret-env", "HOOK_SECRET_FOR_TEST")
    assert credentials_open(Destination.objects.get(name="hook")) == {"secret": "whsec-123"}


def test_create_destination_errors_are_one_line(db, monkeypatch):
    monkeypatch.setenv("MC_KEY_FOR_TEST", "0123456789abcdef0123456789abcdef-us19")
    monkeypatch.delenv("UNSET_FOR_TEST", raising=False)
    base = ["create_destination", "mc-cli", "--kind", "mailchimp", "--purpose",
            "email_marketing"]
    assert "--api-key-env" in _refused(*base)
    assert "UNSET_FOR_TEST is not set" in _refused(*base, "--api-key-env", "UNSET_FOR_TEST")
    keyed = [*base, "--api-key-env", "MC_KEY_FOR_TEST"]
    assert _refused(*keyed, "--mapping", "{oops").startswith("--mapping: not JSON")
    assert _refused(*keyed, "--mapping", '{"X": "nope"}').startswith("field_mapping:")
    assert _refused(*keyed, "--rate", "fast").startswith("--rate: not a number")
    assert _refused(*keyed, "--batch-size", "5000").startswith("batch_size:")
    assert _refused("create_destination", "x", "--kind", "fax", "--purpose",
                    "email_marketing").startswith("kind:")
    assert _refused(*keyed[:5], "nothing", "--api-key-env", "MC_KEY_FOR_TEST"
                    ).startswith("purpose:")
    assert "required" in _refused("create_destination", "x")
    assert not Destination.objects.exists()


def test_create_destination_exit_status_from_the_shell(tmp_path):
    """From a shell, a refused command exits non-zero with one line on stderr."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    done = subprocess.run(
        [sys.executable, "manage.py", "create_destination", "mc", "--kind", "mailchimp",
         "--purpose", "email_marketing"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("CommandError: mailchimp needs "
                                                   "--api-key-env")


def test_create_sync(audience, mailchimp_destination):
    out = _call("create_sync", "--segment", "brest", "--destination", "mc", "--container",
                json.dumps({"list_id": LIST_ID, "tag": TAG}), "--schedule", "0 6 * * *")
    sync = AudienceSync.objects.get()
    assert out.strip() == f"sync {sync.pk} created: brest -> mc (upsert_and_remove, 0 6 * * *)"
    assert sync.container == {"list_id": LIST_ID, "tag": TAG}
    assert _refused("create_sync", "--segment", "nope", "--destination", "mc",
                    "--container", "{}").startswith("--segment: no segment")
    assert _refused("create_sync", "--segment", "brest", "--destination", "mc",
                    "--container", '{"list_id": "x"}') == "container: mailchimp needs tag"
    assert _refused("create_sync", "--segment", "brest", "--destination", "mc",
                    "--container", "[1", ).startswith("--container: not JSON")
    assert _refused("create_sync", "--segment", "brest", "--destination", "mc",
                    "--container", json.dumps({"list_id": "x", "tag": "y"}),
                    "--schedule", "* *").startswith("schedule:")
    assert "required" in _refused("create_sync")
    assert AudienceSync.objects.count() == 1


def test_run_sync_prints_the_counters(audience, mailchimp, mailchimp_sync):
    audience.add(3)
    audience.add(1, start=3, consent=False)
    audience.evaluate()
    out = _call("run_sync", str(mailchimp_sync.pk))
    assert out.startswith(f"sync {mailchimp_sync.pk} (brest -> mc): succeeded added=3 ")
    assert "skipped_consent=1" in out and "failed=0" in out
    assert mailchimp.tag_members(TAG) == {f"person{n}@cdp.test" for n in range(3)}
    mailchimp.set_status("person2@cdp.test", "unsubscribed")
    out = _call("run_sync", "--all", "--reconcile")
    assert "opt_outs=1" in out and "removed=1" in out and "unchanged=2" in out
    assert SyncRun.objects.filter(trigger="nightly").count() == 1


def test_run_sync_errors(audience, mailchimp_sync):
    assert _refused("run_sync") == "give a sync id or --all (not both)"
    assert _refused("run_sync", "1", "--all") == "give a sync id or --all (not both)"
    assert _refused("run_sync", "999999") == "no sync with id 999999"
    assert _refused("run_sync", "abc").startswith("id: not a number")
    call_command("run_sync", "--all", stdout=io.StringIO())  # nothing wrong, nothing to say
    AudienceSync.objects.filter(pk=mailchimp_sync.pk).update(enabled=False)
    assert _refused("run_sync", str(mailchimp_sync.pk)) == (
        f"sync {mailchimp_sync.pk}: the sync is disabled")


def test_run_sync_failure_exits_non_zero(audience, mailchimp, mailchimp_sync):
    """A run the vendor refuses (revoked key) is printed, then reported as the error."""
    audience.add(1)
    audience.evaluate()
    mailchimp.api_keys.clear()
    message = _refused("run_sync", str(mailchimp_sync.pk))
    assert message.startswith(f"sync {mailchimp_sync.pk} failed:")
    assert SyncRun.objects.get().status == SyncRun.Status.FAILED


def test_export_erasure_deliveries(audience, mailchimp, mailchimp_sync, tmp_path):
    audience.add(2)
    audience.evaluate()
    _call("run_sync", str(mailchimp_sync.pk))
    erased = subject_erase(profile_ids=[audience.profile(1)], identified_by="profile",
                           actor="t", reason="Art. 17").request
    target = tmp_path / "proof.json"
    err = io.StringIO()
    call_command("export_erasure_deliveries", "--request", str(erased.pk), "--format",
                 "json", "--out", str(target), stdout=io.StringIO(), stderr=err)
    rows = json.loads(target.read_text())
    assert [(r["destination"], r["status"], r["request"]) for r in rows] == [
        ("mc", "pending", erased.pk)]
    assert str(audience.profile(0)) not in target.read_text()
    assert "1 erasure deliveries exported" in err.getvalue()
    assert AuditEvent.objects.filter(action="erasure_delivery.export",
                                     details__via="command").exists()
    csv_out = _call("export_erasure_deliveries", "--status", "done", "--format", "csv")
    assert csv_out.splitlines() == [csv_out.splitlines()[0]]  # header only
    assert _refused("export_erasure_deliveries", "--since", "last week").startswith("--since:")
    assert _refused("export_erasure_deliveries", "--status", "lost").startswith("--status:")
    assert _refused("export_erasure_deliveries", "--request", "x").startswith("--request:")
