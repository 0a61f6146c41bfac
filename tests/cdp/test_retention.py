"""Retention: old events deleted, inactive profiles erased, restricted ones kept; audited."""

import datetime as dt
import io

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from cdp.models import (
    AuditEvent,
    ConsentEntry,
    DataKey,
    Event,
    Profile,
    Source,
    SourceRecord,
    SuppressedIdentity,
)
from cdp.services.record_parsing import ParsedRecord
from cdp.services.records import records_upsert
from cdp.services.retention import retention_enforce
from cdp.tasks import retention_enforce_task

NOW = timezone.now()
OLD = NOW - dt.timedelta(days=4 * 365)
RECENT = NOW - dt.timedelta(days=30)


@pytest.fixture
def history(db):
    """gone: silent for 4 years; active: an old and a recent event; restricted: silent but
    under restriction; consented: silent but re-consented last month."""
    source = Source.objects.create(name="crm")
    names = ["gone", "active", "restricted", "consented"]
    records_upsert(source=source, now=OLD, records=[
        ParsedRecord(name, {"email": f"{name}@example.org"}) for name in names])
    ids = {r.external_id: r.profile_id for r in SourceRecord.objects.all()}
    Profile.objects.update(created_at=OLD)
    for number, (name, when) in enumerate(
        [("gone", OLD), ("active", OLD), ("active", RECENT), ("restricted", OLD)]
    ):
        Event.objects.create(source=source, event_id=f"e{number}", profile_id=ids[name],
                             type="purchase", occurred_at=when, received_at=when)
    Profile.objects.filter(pk=ids["restricted"]).update(restricted_at=RECENT)
    ConsentEntry.objects.create(profile_id=ids["consented"], purpose="email_marketing",
                                status="granted", captured_at=RECENT, source=source)
    return ids


def _start() -> int:
    last = AuditEvent.objects.order_by("-id").first()
    return last.id if last else 0


def test_nightly_run_erases_the_inactive_and_deletes_old_events(history):
    start = _start()
    result = retention_enforce(actor="test", now=NOW)
    assert result.profiles_erased == 1 and result.restricted_kept == 1
    # gone's event goes with its profile; active's old one by the events rule; the
    # restricted profile's old event too (restriction keeps the person, not stale events).
    assert result.events_deleted == 2
    assert set(Profile.objects.values_list("pk", flat=True)) == {
        history["active"], history["restricted"], history["consented"]}
    assert list(Event.objects.values_list("occurred_at", flat=True)) == [RECENT]
    assert DataKey.objects.count() == 3
    assert SuppressedIdentity.objects.count() == 0  # not an objection: no suppression
    rows = AuditEvent.objects.filter(id__gt=start)
    erase = rows.get(action="subject.erase")
    assert erase.profile_id == history["gone"] and erase.reason.startswith("retention")
    purge = rows.get(action="retention.purge")
    assert purge.details["profiles_erased"] == 1 and purge.details["events_deleted"] == 2
    assert purge.details["details"]["source_records"] == 1
    # A second run finds nothing more.
    again = retention_enforce(actor="test", now=NOW)
    assert (again.profiles_erased, again.events_deleted) == (0, 0)


def test_dry_run_counts_and_changes_nothing(history):
    out = io.StringIO()
    call_command("enforce_retention", "--dry-run", stdout=out)
    assert "would delete 3 events" in out.getvalue()  # counted before the erasure
    assert "and 1 inactive profiles" in out.getvalue()
    assert Profile.objects.count() == 4 and Event.objects.count() == 4
    assert AuditEvent.objects.filter(action="retention.dry_run").count() == 1


@override_settings(CDP_RETENTION_EVENTS_DAYS=0, CDP_RETENTION_INACTIVE_DAYS=0)
def test_zero_turns_the_rules_off(history):
    result = retention_enforce(actor="test", now=NOW)
    assert (result.profiles_erased, result.events_deleted) == (0, 0)
    assert Profile.objects.count() == 4 and Event.objects.count() == 4


@override_settings(CDP_RETENTION_INACTIVE_DAYS=10 * 365)
def test_longer_period_keeps_the_profile(history):
    assert retention_enforce(actor="test", now=NOW).profiles_erased == 0


def test_task_is_scheduled_nightly_and_runs(history, celery_eager):
    entry = settings.CELERY_BEAT_SCHEDULE["cdp-retention-enforce"]
    assert entry["task"] == "cdp.tasks.retention_enforce_task"
    assert entry["schedule"].hour == {4} and entry["schedule"].minute == {0}
    assert retention_enforce_task.delay().get() == {"events_deleted": 2, "profiles_erased": 1,
                                                  "restricted_kept": 1}
