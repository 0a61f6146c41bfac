"""Segment evaluation: membership history, runs, guards, lease, real-time, schedule."""

import datetime as dt

import pytest
from django_celery_beat.models import PeriodicTask

from cdp.models import AuditEvent, Source, SourceRecord
from cdp.services.record_parsing import ParsedRecord
from cdp.services.records import records_upsert
from segments.evaluation import (
    LEASE,
    SegmentBusy,
    segment_evaluate,
    segment_evaluate_profiles,
    segment_run_start,
    segment_runs_reap,
)
from segments.models import SegmentMembership, SegmentRun
from segments.services import SegmentInvalid, segment_save
from segments.signals import membership_changed

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
CITIES = {"a": "Paris", "b": "Lyon", "c": "Lille", "d": "Paris", "e": "Nantes"}
IN_PARIS_LYON = {"attribute": "city", "op": "in", "value": ["Paris", "Lyon"]}


@pytest.fixture
def people(db):
    source = Source.objects.create(name="crm")
    records_upsert(source=source, records=[
        ParsedRecord(ext, {"city": city}) for ext, city in CITIES.items()
    ])
    return {r.external_id: r.profile_id for r in SourceRecord.objects.all()}


def _segment(definition=IN_PARIS_LYON, slug="paris-lyon", schedule="0 * * * *"):
    return segment_save(actor="test", name=slug, slug=slug, definition=definition,
                        schedule=schedule)


def _members(segment):
    return set(segment.memberships.filter(exited_at__isnull=True)
               .values_list("profile_id", flat=True))


def _move(external_id, city):
    records_upsert(source=Source.objects.get(name="crm"),
                   records=[ParsedRecord(external_id, {"city": city})])


def test_first_run_stores_members_and_a_run(people):
    """A run stores the members and records added/removed/size."""
    segment = _segment()
    run = segment_evaluate(segment_id=segment.pk, now=NOW)
    assert _members(segment) == {people["a"], people["b"], people["d"]}
    assert (run.status, run.size, run.added, run.removed) == ("succeeded", 3, 3, 0)
    segment.refresh_from_db()
    assert segment.size == 3 and segment.last_success_at == NOW


def test_later_run_keeps_history_of_exits_and_entries(people):
    """Leaving closes the stay (exited_at), entering opens a new one; stays are kept."""
    segment = _segment()
    segment_evaluate(segment_id=segment.pk, now=NOW)
    _move("a", "Nantes")
    _move("c", "Lyon")
    later = NOW + dt.timedelta(hours=1)
    run = segment_evaluate(segment_id=segment.pk, now=later)
    assert (run.added, run.removed, run.size) == (1, 1, 3)
    stay = SegmentMembership.objects.get(segment=segment, profile_id=people["a"])
    assert stay.entered_at == NOW and stay.exited_at == later
    _move("a", "Paris")
    segment_evaluate(segment_id=segment.pk, now=later + dt.timedelta(hours=1))
    assert SegmentMembership.objects.filter(segment=segment, profile_id=people["a"]).count() == 2
    assert people["a"] in _members(segment)


def test_unchanged_rerun_changes_nothing(people):
    """A second run with the same data adds and removes nobody."""
    segment = _segment()
    segment_evaluate(segment_id=segment.pk, now=NOW)
    run = segment_evaluate(segment_id=segment.pk, now=NOW + dt.timedelta(minutes=5))
    assert (run.added, run.removed, run.size, run.jaccard) == (0, 0, 3, 1.0)
    assert SegmentMembership.objects.count() == 3


def test_guards_warn_on_empty_small_and_big_change(people):
    """Empty, small and sharply changed segments carry warnings on their run."""
    empty = _segment({"attribute": "city", "op": "eq", "value": "Brest"}, slug="brest")
    assert "segment is empty" in segment_evaluate(segment_id=empty.pk, now=NOW).warnings
    segment = _segment()
    first = segment_evaluate(segment_id=segment.pk, now=NOW)
    assert any("small" in w for w in first.warnings)
    for ext in "abd":
        _move(ext, "Brest")
    for ext in "ce":
        _move(ext, "Paris")
    changed = segment_evaluate(segment_id=segment.pk, now=NOW + dt.timedelta(hours=1))
    assert changed.jaccard == 0.0
    assert any("changed a lot" in w for w in changed.warnings)


def test_membership_change_is_announced_after_commit(people, django_capture_on_commit_callbacks):
    """Connectors hear about a changed segment once the run is committed."""
    heard = []
    membership_changed.connect(lambda **kw: heard.append(kw), weak=False, dispatch_uid="t")
    try:
        segment = _segment()
        with django_capture_on_commit_callbacks(execute=True):
            run = segment_evaluate(segment_id=segment.pk, now=NOW)
    finally:
        membership_changed.disconnect(dispatch_uid="t")
    assert heard == [{"signal": membership_changed, "sender": type(segment),
                      "segment_id": segment.pk, "run_id": run.pk, "added": 3, "removed": 0}]


def test_live_lease_refuses_a_second_run_and_a_dead_one_is_taken_over(people):
    """One running run per segment; a run without heartbeat past the lease is failed."""
    segment = _segment()
    holder = segment_run_start(segment=segment, trigger="manual", now=NOW)
    with pytest.raises(SegmentBusy):
        segment_evaluate(segment_id=segment.pk, now=NOW + dt.timedelta(minutes=1))
    later = NOW + LEASE + dt.timedelta(minutes=1)
    run = segment_evaluate(segment_id=segment.pk, now=later)
    holder.refresh_from_db()
    assert holder.status == "failed" and "lease" in holder.error
    assert run.status == "succeeded"


def test_reaper_fails_dead_runs_only(people):
    """The reaper fails runs whose heartbeat is older than the lease, not live ones."""
    dead = segment_run_start(segment=_segment(), trigger="manual", now=NOW)
    live = segment_run_start(segment=_segment(slug="other"), trigger="manual",
                             now=NOW + LEASE)
    assert segment_runs_reap(now=NOW + LEASE + dt.timedelta(seconds=1)) == [dead.segment_id]
    assert SegmentRun.objects.get(pk=live.pk).status == "running"


def test_failed_evaluation_is_recorded_not_silent(people, monkeypatch):
    """An error during a run leaves a failed run with the error, and no open lease."""
    segment = _segment()

    def boom(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr("segments.evaluation._apply_diff", boom)
    with pytest.raises(RuntimeError):
        segment_evaluate(segment_id=segment.pk, now=NOW)
    run = SegmentRun.objects.get(segment=segment)
    assert run.status == "failed" and "database went away" in run.error
    assert not SegmentRun.objects.filter(status="running").exists()


def test_realtime_reevaluation_touches_only_given_profiles(people):
    """Re-evaluating for some profiles leaves the others' membership untouched."""
    segment = _segment()
    segment_evaluate(segment_id=segment.pk, now=NOW)
    _move("a", "Nantes")
    _move("d", "Nantes")
    added, removed = segment_evaluate_profiles(segment=segment, profile_ids=[people["a"]],
                                               now=NOW + dt.timedelta(minutes=1))
    assert (added, removed) == (0, 1)
    assert people["a"] not in _members(segment) and people["d"] in _members(segment)


def test_schedule_is_a_beat_task_kept_in_step(people):
    """Saving a segment creates, updates or removes its django-celery-beat task."""
    segment = _segment(schedule="*/15 * * * *")
    task = PeriodicTask.objects.get(name=f"segment-evaluate:{segment.pk}")
    assert task.crontab.minute == "*/15" and task.task == "segments.tasks.segment_evaluate_task"
    segment_save(actor="test", segment=segment, name="x", slug=segment.slug,
                 definition=IN_PARIS_LYON, schedule="")
    assert not PeriodicTask.objects.filter(name=f"segment-evaluate:{segment.pk}").exists()
    with pytest.raises(SegmentInvalid, match="schedule"):
        _segment(slug="bad", schedule="every hour")
    assert AuditEvent.objects.filter(action="segment.update", object_id=str(segment.pk)).exists()


def test_new_events_reevaluate_affected_segments_for_their_profiles(people):
    """A purchase makes its buyer enter a purchase-based segment without a full run."""
    from cdp.models import Event
    from segments.tasks import traits_refresh_task

    segment = _segment({"event": "purchase", "count": {"gte": 1}}, slug="buyers")
    city_only = _segment(slug="city-only")
    segment_evaluate(segment_id=segment.pk, now=NOW)
    assert _members(segment) == set()
    Event.objects.create(source=Source.objects.get(name="crm"), event_id="e1",
                         profile_id=people["c"], type="purchase", occurred_at=NOW,
                         received_at=NOW)
    traits_refresh_task([str(people["c"])], ["purchase"])
    assert _members(segment) == {people["c"]}
    assert _members(city_only) == set()  # not evaluated: it uses no purchase event


def test_dead_run_is_reaped_and_retried(people, monkeypatch):
    """The reaper task fails a dead run and queues a retry of that segment."""
    from segments import tasks

    segment = _segment()
    segment_run_start(segment=segment, trigger="manual", now=NOW)
    queued = []
    monkeypatch.setattr(tasks.segment_evaluate_task, "delay", lambda *a: queued.append(a))
    assert tasks.segment_runs_reap_task() == [segment.pk]
    assert queued == [(segment.pk, "retry")]


def test_realtime_changes_keep_the_segment_size_right(people):
    """Real-time entries and exits adjust the stored size without a full run."""
    segment = _segment()
    segment_evaluate(segment_id=segment.pk, now=NOW)
    _move("a", "Nantes")
    _move("c", "Paris")
    segment_evaluate_profiles(segment=segment, profile_ids=[people["a"], people["c"]],
                              now=NOW + dt.timedelta(minutes=1))
    segment.refresh_from_db()
    assert segment.size == len(_members(segment)) == 3
