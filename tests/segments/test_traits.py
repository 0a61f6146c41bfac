"""Computed traits: exact figures, window boundaries, resets, RFM quintiles, incremental path."""

import datetime as dt
import random
import uuid
from decimal import Decimal

import pytest
from celery.schedules import crontab
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cdp.celery import app as celery_app
from cdp.models import Event, Profile, Source
from segments import receivers, traits
from segments.models import ProfileTraits
from segments.tasks import traits_recompute_all_task, traits_refresh_task
from segments.traits import (
    traits_recompute,
    traits_recompute_all,
    traits_refresh,
)

NOW = dt.datetime(2025, 6, 30, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
SECOND = dt.timedelta(seconds=1)


def _add(source: Source, profile: Profile, type_: str, at: dt.datetime,
         value: str | int | None = None) -> None:
    Event.objects.create(
        source=source, event_id=uuid.uuid4().hex, profile=profile, type=type_,
        occurred_at=at, value=None if value is None else Decimal(value), received_at=NOW,
    )


def _traits(profile: Profile) -> ProfileTraits:
    return ProfileTraits.objects.get(profile=profile)


def _rfm(profile: Profile) -> tuple:
    row = _traits(profile)
    return row.rfm_recency, row.rfm_frequency, row.rfm_monetary, row.rfm_score


@pytest.fixture
def celery_eager():
    """Run tasks in-process, as the demo does; restored afterwards for other tests."""
    saved = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = saved


def test_figures_are_exact_and_windows_include_their_lower_bound(source):
    """An event exactly 30/90/365 days old counts in that window; one second older does not."""
    buyer = Profile.objects.create()
    for at, value in [
        (NOW - DAY, None),  # a purchase without a value: counted, no revenue
        (NOW - 30 * DAY, "5.00"),
        (NOW - 30 * DAY - SECOND, "7.00"),
        (NOW - 90 * DAY, "11.00"),
        (NOW - 90 * DAY - SECOND, "13.00"),
        (NOW - 365 * DAY, "17.00"),
        (NOW - 365 * DAY - SECOND, "19.0049"),
    ]:
        _add(source, buyer, "purchase", at, value)
    for at in (NOW - 2 * DAY, NOW - 30 * DAY, NOW - 30 * DAY - SECOND):
        _add(source, buyer, "email_open", at)
    _add(source, buyer, "email_click", NOW - 5 * DAY)
    _add(source, buyer, "email_click", NOW - 31 * DAY)
    _add(source, buyer, "page.view", NOW - dt.timedelta(hours=1))

    assert traits_recompute(profile_ids=[buyer.pk], now=NOW) == 1

    row = _traits(buyer)
    assert (row.purchase_count_30d, row.purchase_count_90d, row.purchase_count_365d,
            row.purchase_count) == (2, 4, 6, 7)
    assert (row.revenue_30d, row.revenue_90d, row.revenue_365d, row.revenue_total) == (
        Decimal("5.00"), Decimal("23.00"), Decimal("53.00"), Decimal("72.00"))
    assert row.avg_basket == Decimal("10.29")  # 72.0049 / 7
    assert row.first_purchase_at == NOW - 365 * DAY - SECOND
    assert row.last_purchase_at == NOW - DAY
    assert row.last_activity_at == NOW - dt.timedelta(hours=1)
    assert (row.email_opens_30d, row.email_clicks_30d) == (2, 1)
    assert row.computed_at == NOW


def test_profile_without_purchases_has_zeros_and_nulls(source):
    """Activity alone gives counts of zero and no purchase dates, basket or RFM."""
    reader = Profile.objects.create()
    _add(source, reader, "email_open", NOW - DAY)

    traits_recompute_all(now=NOW)

    row = _traits(reader)
    assert (row.purchase_count, row.revenue_total, row.email_opens_30d) == (0, 0, 1)
    assert row.first_purchase_at is None and row.last_purchase_at is None
    assert row.avg_basket is None and row.last_activity_at == NOW - DAY
    assert _rfm(reader) == (None, None, None, None)


def test_batch_resets_profiles_whose_events_are_gone_and_is_repeatable(source):
    """The batch drops the row of a profile without events; running it twice changes nothing."""
    kept, emptied = Profile.objects.create(), Profile.objects.create()
    _add(source, kept, "purchase", NOW - DAY, 10)
    _add(source, emptied, "purchase", NOW - DAY, 20)
    traits_recompute_all(now=NOW)
    Event.objects.filter(profile=emptied).delete()

    assert traits_recompute_all(now=NOW) == 1
    first = list(ProfileTraits.objects.values())
    assert traits_recompute_all(now=NOW) == 1

    assert list(ProfileTraits.objects.values()) == first
    assert [row["profile_id"] for row in first] == [kept.pk]


def test_refresh_touches_only_the_given_profiles(source):
    """Others keep their (stale) figures; a given profile without events loses its row."""
    changed, untouched, emptied = (Profile.objects.create() for _ in range(3))
    for profile in (changed, untouched, emptied):
        _add(source, profile, "purchase", NOW - 10 * DAY, 10)
    traits_recompute_all(now=NOW - DAY)
    for profile in (changed, untouched):
        _add(source, profile, "purchase", NOW, 5)
    Event.objects.filter(profile=emptied).delete()

    assert traits_refresh(profile_ids=[changed.pk, emptied.pk], now=NOW) == 1

    assert (_traits(changed).purchase_count, _traits(changed).computed_at) == (2, NOW)
    assert (_traits(untouched).purchase_count, _traits(untouched).computed_at) == (1, NOW - DAY)
    assert not ProfileTraits.objects.filter(profile=emptied).exists()
    assert traits_refresh(profile_ids=[], now=NOW) == 0


def test_rfm_quintiles_follow_each_ordering(source):
    """Ten purchasers: two per quintile on recency, frequency and monetary independently."""
    monetary_rank = [3, 7, 1, 9, 5, 10, 2, 8, 4, 6]
    profiles = []
    for i in range(1, 11):
        profile = Profile.objects.create()
        profiles.append(profile)
        # Profile i bought i times, last i days ago; its revenue ranks monetary_rank[i - 1].
        _add(source, profile, "purchase", NOW - i * DAY, monetary_rank[i - 1] * 100)
        for j in range(1, i):
            _add(source, profile, "purchase", NOW - (i + j) * DAY, 0)
    reader = Profile.objects.create()
    _add(source, reader, "email_open", NOW)

    traits_recompute_all(now=NOW)

    for i, profile in enumerate(profiles, start=1):
        recency, frequency = 6 - (i + 1) // 2, (i + 1) // 2
        monetary = (monetary_rank[i - 1] + 1) // 2
        assert _rfm(profile) == (
            recency, frequency, monetary, 100 * recency + 10 * frequency + monetary
        ), i
    assert _rfm(reader) == (None, None, None, None)


def test_rfm_ties_share_the_lowest_quintile(source):
    """Identical customers get identical scores (NTILE would spread them over 1 to 5)."""
    twins = [Profile.objects.create() for _ in range(5)]
    for profile in twins:
        _add(source, profile, "purchase", NOW - DAY, 30)
    big = Profile.objects.create()
    _add(source, big, "purchase", NOW, 90)
    _add(source, big, "purchase", NOW, 90)

    traits_recompute_all(now=NOW)

    assert {_rfm(profile) for profile in twins} == {(1, 1, 1, 111)}
    assert _rfm(big) == (5, 5, 5, 555)


def _reference_quintiles(values: list) -> list[int]:
    """1 + floor(5 * (values strictly lower) / n), the documented definition."""
    return [1 + 5 * sum(other < value for other in values) // len(values) for value in values]


@pytest.mark.parametrize("size", [7, 13])
def test_refresh_scores_as_the_batch_does(source, size):
    """Breakpoints reproduce the batch's quintiles exactly, ties and odd sizes included."""
    rng = random.Random(size)
    profiles = [Profile.objects.create() for _ in range(size)]
    for profile in profiles:
        for _ in range(rng.randint(1, 3)):
            _add(source, profile, "purchase", NOW - rng.randint(0, 4) * DAY,
                 rng.choice([10, 20, 20, 35]))
    traits_recompute_all(now=NOW)
    batch = {profile.pk: _rfm(profile) for profile in profiles}
    rows = [_traits(profile) for profile in profiles]
    expected = zip(*(_reference_quintiles([getattr(row, column) for row in rows])
                     for column in ("last_purchase_at", "purchase_count", "revenue_total")),
                   strict=True)
    assert [row[:3] for row in batch.values()] == list(expected)

    ProfileTraits.objects.update(rfm_recency=None, rfm_frequency=None, rfm_monetary=None,
                                 rfm_score=None)
    traits_refresh(profile_ids=[profile.pk for profile in profiles], now=NOW)

    assert {profile.pk: _rfm(profile) for profile in profiles} == batch


def test_refresh_rescores_the_changed_profile_only(source):
    """A refreshed profile is ranked against everybody; the others keep their scores."""
    profiles = [Profile.objects.create() for _ in range(10)]
    for i, profile in enumerate(profiles, start=1):
        _add(source, profile, "purchase", NOW - 20 * i * DAY, 10 * i)
    traits_recompute_all(now=NOW - DAY)
    before = {profile.pk: _rfm(profile) for profile in profiles}
    last = profiles[-1]
    assert before[last.pk] == (1, 1, 5, 115)  # one purchase each: frequency ties
    _add(source, last, "purchase", NOW, 1000)
    _add(source, last, "purchase", NOW, 1000)

    traits_refresh(profile_ids=[last.pk], now=NOW)

    assert _rfm(last) == (5, 5, 5, 555)
    assert all(_rfm(p) == before[p.pk] for p in profiles[:-1])


def test_recompute_is_set_based(source, django_assert_max_num_queries, monkeypatch):
    """A constant number of queries per chunk of profiles, whatever their number of events."""
    few, many = ([Profile.objects.create() for _ in range(n)] for n in (2, 40))
    for i, profile in enumerate(few + many):
        for day in range(i % 4 + 1):
            _add(source, profile, "purchase", NOW - day * DAY, 10)
    for group in (few, many):
        # savepoint, upsert, delete of rows without events, release
        with django_assert_max_num_queries(4):
            assert traits_recompute(profile_ids=[p.pk for p in group], now=NOW) == len(group)

    monkeypatch.setattr(traits, "CHUNK_SIZE", 16)
    with CaptureQueriesContext(connection) as queries:
        assert traits_refresh(profile_ids=[p.pk for p in many], now=NOW) == 40
    # 3 savepoint pairs, 3 chunks x (upsert, delete), breakpoints, 3 chunks x score
    assert len(queries) == 3 * 2 + 3 * 2 + 1 + 3
    assert all(row.purchase_count == 1 + (i + 2) % 4
               for i, row in enumerate(_traits(p) for p in many))


def test_ingested_events_refresh_traits(
    ingest_client, source, celery_eager, django_capture_on_commit_callbacks
):
    """POSTed events reach the profile's traits through the signal and the (eager) task."""
    events = [
        {"id": "t1", "type": "purchase", "occurred_at": "2024-05-01T10:00:00+02:00",
         "email": "traits@example.org", "value": "19.90"},
        {"id": "t2", "type": "purchase", "occurred_at": "2024-05-03T10:00:00+02:00",
         "email": "traits@example.org", "value": 5},
    ]
    with django_capture_on_commit_callbacks(execute=True):
        response = ingest_client.post("/api/v1/events/batch",
                                      {"source": "crm", "events": events}, format="json")
    assert response.status_code == 200, response.content

    row = ProfileTraits.objects.get(profile=Event.objects.get(event_id="t1").profile_id)
    assert (row.purchase_count, row.revenue_total, row.avg_basket) == (
        2, Decimal("24.90"), Decimal("12.45"))
    assert row.last_purchase_at == dt.datetime(2024, 5, 3, 8, tzinfo=dt.UTC)
    assert row.rfm_score == 111  # the only purchaser: lowest quintile, as with NTILE


def test_receiver_enqueues_chunks_and_survives_a_broker_failure(monkeypatch, caplog):
    """Large batches are split; an enqueue failure is logged, never raised after commit."""
    sent = []
    monkeypatch.setattr(receivers, "CHUNK_SIZE", 2)
    monkeypatch.setattr(traits_refresh_task, "delay", lambda ids, types: sent.append(ids))
    ids = [uuid.uuid4() for _ in range(5)]
    receivers.traits_refresh_on_ingest(sender=Event, profile_ids=set(ids),
                                       event_types={"purchase"})
    assert [len(chunk) for chunk in sent] == [2, 2, 1]
    assert sorted(sum(sent, [])) == sorted(str(value) for value in ids)

    def broken(*_: list[str]) -> None:
        raise ConnectionError("broker down")

    monkeypatch.setattr(traits_refresh_task, "delay", broken)
    receivers.traits_refresh_on_ingest(sender=Event, profile_ids=set(ids))
    assert "not enqueued" in caplog.text


def test_tasks_call_the_services(source):
    """The tasks take string ids; unknown profiles are skipped quietly."""
    buyer = Profile.objects.create()
    _add(source, buyer, "purchase", NOW, 10)
    assert traits_refresh_task(profile_ids=[str(buyer.pk), str(uuid.uuid4())]) == 1
    assert traits_recompute_all_task() == 1
    assert _rfm(buyer) == (1, 1, 1, 111)


def test_nightly_batch_is_scheduled_at_three():
    """The one beat entry names a registered task and runs at 03:00 (CELERY_TIMEZONE)."""
    entry = settings.CELERY_BEAT_SCHEDULE["segments-traits-recompute-all"]
    assert entry["task"] == traits_recompute_all_task.name
    assert entry["task"] in celery_app.tasks
    assert entry["schedule"] == crontab(hour=3, minute=0)
    assert settings.CELERY_TIMEZONE == "Europe/Paris"


def test_admin_lists_traits_read_only(client, source):
    """Staff see the traits list; nobody can add or edit traits by hand."""
    buyer = Profile.objects.create()
    _add(source, buyer, "purchase", NOW, 10)
    traits_recompute_all(now=NOW)
    user = get_user_model().objects.create_superuser("ops", "ops@example.org", "pw-123456")
    client.force_login(user)

    page = client.get("/admin/segments/profiletraits/")
    assert page.status_code == 200 and str(buyer.pk) in page.content.decode()
    assert client.get("/admin/segments/profiletraits/add/").status_code == 403
    detail = client.get(f"/admin/segments/profiletraits/{buyer.pk}/change/")
    assert detail.status_code == 200 and b'name="purchase_count"' not in detail.content
