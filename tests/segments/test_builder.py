"""Segment builder services and admin endpoints: vocabulary, live preview with errors by
JSON path, the builder form, "Evaluate now" and the segment page."""

import datetime as dt
import json
from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone, translation

from cdp.models import AuditEvent, ConsentEntry, Event, Source, SourceRecord
from cdp.services.record_parsing import ParsedRecord
from cdp.services.records import records_upsert
from segments.evaluation import segment_evaluate
from segments.models import Segment, SegmentModel, SegmentRun
from segments.services import segment_save
from segments.ui.builder import builder_preview, builder_vocabulary, event_types_seen
from segments.ui.page import segment_audiences, segment_page, size_chart

# "At least 3 purchases in the last 7 days AND email marketing granted."
LOYAL_AND_REACHABLE = {"all": [
    {"event": "purchase", "count": {"gte": 3}, "within_days": 7},
    {"consent": "email_marketing"},
]}
PREVIEW_URL = "/admin/segments/segment/builder/preview/"


@dataclass
class Shoppers:
    """People with purchases and consents; `expected` match LOYAL_AND_REACHABLE."""

    source: Source
    profiles: dict[str, object]
    expected: set


# name: (purchase ages in days, consent statuses oldest first)
PEOPLE = {
    "ana": ([1, 2, 3], ["granted"]),             # in
    "bob": ([0, 1, 2, 5], ["granted"]),          # in
    "cyd": ([1, 2, 10], ["granted"]),            # 2 in the window: out
    "dan": ([1, 1, 2, 3, 4], []),                # no consent: out
    "eve": ([1, 2, 3], ["granted", "withdrawn"]),  # withdrew: out
    "fay": ([6, 6, 6], ["granted"]),             # in
    "gus": ([], ["granted"]),                    # no purchase: out
}


def shoppers_add(shoppers: Shoppers | None, name: str, *, purchases: int = 0,
                 consents: tuple[str, ...] = ("granted",), now: dt.datetime | None = None,
                 ages: list[int] | None = None) -> object:
    """One person with a record, recent purchases (or these ages in days) and consents."""
    now = now or timezone.now()
    source = Source.objects.get_or_create(name="shop", defaults={"kind": Source.Kind.SHOP})[0]
    records_upsert(source=source, records=[ParsedRecord(name, {
        "email": f"{name}@cdp.test", "city": "Brest", "first_name": name.title()})])
    profile_id = SourceRecord.objects.get(source=source, external_id=name).profile_id
    for index, age in enumerate(ages if ages is not None else [1] * purchases):
        at = now - dt.timedelta(days=age, hours=1)
        Event.objects.create(source=source, event_id=f"{name}-{index}", profile_id=profile_id,
                             type="purchase", occurred_at=at, received_at=at, value=20)
    ConsentEntry.objects.bulk_create([
        ConsentEntry(profile_id=profile_id, purpose="email_marketing", status=status,
                     captured_at=now - dt.timedelta(days=30 - index), source=source)
        for index, status in enumerate(consents)])
    if shoppers is not None:
        shoppers.profiles[name] = profile_id
    return profile_id


def shoppers_create(now: dt.datetime | None = None) -> Shoppers:
    """The PEOPLE above as records, purchase events and consent entries."""
    now = now or timezone.now()
    profiles = {name: shoppers_add(None, name, ages=ages, consents=tuple(statuses), now=now)
                for name, (ages, statuses) in PEOPLE.items()}
    source = Source.objects.get(name="shop")
    expected = {profiles[n] for n in ("ana", "bob", "fay")}
    return Shoppers(source, profiles, expected)


@pytest.fixture
def shoppers(db) -> Shoppers:
    return shoppers_create()


def _user(username: str, *groups: str, **extra):
    user = get_user_model().objects.create_user(username, f"{username}@example.org",
                                                "pw-123456", is_staff=True, **extra)
    for group in groups:
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def marketer_client(client, db):
    client.force_login(_user("marie", "marketer"))
    return client


def test_vocabulary_lists_what_exists_and_never_the_segment_itself(shoppers):
    """The pickers offer stored event types, traits, purposes, other segments and models."""
    Event.objects.create(source=shoppers.source, event_id="x", type="newsletter_signup",
                         profile_id=shoppers.profiles["ana"], occurred_at=timezone.now(),
                         received_at=timezone.now())
    own = segment_save(actor="t", name="Own", slug="own", definition={"all": []})
    segment_save(actor="t", name="Other", slug="other", definition={"all": []})
    SegmentModel.objects.create(name="Buyers soon", slug="buyers-soon", kind="propensity",
                                algorithm="logistic", features={"traits": ["purchase_count"]})
    vocabulary = builder_vocabulary(segment=own)
    assert "newsletter_signup" in vocabulary["event_types"]
    assert "purchase" in vocabulary["event_types"]
    assert {"value": "email_marketing", "label": "Email marketing"} in vocabulary["purposes"]
    assert [s["value"] for s in vocabulary["segments"]] == ["other"]
    assert vocabulary["models"][0] == {"value": "buyers-soon", "label": "Buyers soon",
                                       "predictive": True, "clusters": []}
    traits = {t["value"]: t["kind"] for t in vocabulary["traits"]}
    assert traits["purchase_count_90d"] == "number"
    assert traits["days_since_last_purchase"] == "days"
    assert [a["value"] for a in vocabulary["attributes"]] == [
        "postcode", "city", "region", "country", "company"]
    assert vocabulary["labels"]["ops"]["gte"]


def test_event_types_are_found_by_skip_scan(shoppers):
    """Each stored type once, in order, and the limit holds."""
    Event.objects.create(source=shoppers.source, event_id="y", type="app_open",
                         profile_id=shoppers.profiles["ana"], occurred_at=timezone.now(),
                         received_at=timezone.now())
    assert event_types_seen() == ["app_open", "purchase"]
    assert event_types_seen(limit=1) == ["app_open"]


def test_preview_counts_the_real_audience_with_a_masked_sample(shoppers):
    """The count is exactly who matches; emails in the sample are masked; audited."""
    result = builder_preview(definition=LOYAL_AND_REACHABLE, actor="user:marie")
    assert result["errors"] == []
    assert result["count"] == len(shoppers.expected) == 3
    assert {s["profile_id"] for s in result["sample"]} == {str(p) for p in shoppers.expected}
    assert all("cdp.test" not in (s["email"] or "") for s in result["sample"])
    assert AuditEvent.objects.filter(action="segment.preview", actor="user:marie").exists()


def test_preview_of_a_bad_draft_gives_problems_by_path_and_is_not_run(shoppers):
    """Errors name the condition (JSON path) so the builder can show them next to it."""
    bad = {"all": [{"event": "purchase", "count": {"gte": None}, "within_days": 7},
                   {"consent": "email_marketing"}, {"segment": "me"}]}
    segment_save(actor="t", name="Me", slug="me", definition={"all": []})
    result = builder_preview(definition=bad, actor="user:marie", self_slug="me")
    paths = [e["path"] for e in result["errors"]]
    assert paths == ["$.all[0].count.gte"]
    assert "count" not in result
    bad["all"][0]["count"]["gte"] = 3
    result = builder_preview(definition=bad, actor="user:marie", self_slug="me")
    assert [e["path"] for e in result["errors"]] == ["$.all[2].segment"]
    assert not AuditEvent.objects.filter(action="segment.preview").exists()


def test_admin_preview_endpoint_for_a_marketer(marketer_client, shoppers):
    """The builder's endpoint answers with the same count as the service, JSON in and out."""
    response = marketer_client.post(PREVIEW_URL, {"definition": LOYAL_AND_REACHABLE},
                                    content_type="application/json")
    assert response.status_code == 200
    assert response.json()["count"] == 3
    bad = marketer_client.post(PREVIEW_URL, {"definition": {"all": [{"trait": "nope",
                                                                     "op": "is_set"}]}},
                               content_type="application/json")
    assert bad.json()["errors"][0]["path"] == "$.all[0].trait"
    assert marketer_client.post(PREVIEW_URL, "{", content_type="application/json"
                                ).status_code == 400
    assert marketer_client.get(PREVIEW_URL).status_code == 405


def test_admin_preview_is_refused_without_the_marketer_role(client, shoppers):
    """A data steward cannot preview (the sample is about people); the refusal is audited."""
    client.force_login(_user("steve", "data_steward"))
    response = client.post(PREVIEW_URL, {"definition": LOYAL_AND_REACHABLE},
                           content_type="application/json")
    assert response.status_code == 403
    assert AuditEvent.objects.filter(action="access.denied", actor="user:steve",
                                     object_id="segments.preview").exists()
    assert not AuditEvent.objects.filter(action="segment.preview").exists()


def test_builder_form_renders_pickers_from_schema_and_vocabulary(marketer_client, shoppers):
    """The add page carries the schema, the vocabulary and an empty "all" to start from."""
    page = marketer_client.get("/admin/segments/segment/add/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "data-segment-builder" in html and "segments/builder.js" in html
    assert 'id="id_definition-schema"' in html and "urn:cdp:segments:rules:v1" in html
    assert 'id="id_definition-vocabulary"' in html and '"value": "email_marketing"' in html
    assert "{&quot;all&quot;: []}</textarea>" in html
    assert "data-schedule-picker" in html


def _form(definition, **extra):
    return {"name": "Loyal", "slug": "loyal", "description": "",
            "definition": json.dumps(definition), "schedule": "", "enabled": "on", **extra}


def test_builder_form_shows_problems_by_condition_and_saves_a_good_one(marketer_client,
                                                                        shoppers):
    """Refused: a summary under the field and each problem (path, message) for the builder.
    Accepted: saved through segment_save (audited) with its schedule."""
    bad = {"all": [{"event": "purchase", "count": {"gte": "three"}}]}
    response = marketer_client.post("/admin/segments/segment/add/", _form(bad))
    assert response.status_code == 200
    widget = response.context["adminform"].form.fields["definition"].widget
    assert widget.rule_errors == [{"path": "$.all[0].count.gte", "message": "must be a number"}]
    assert "1 problem in the rules" in response.content.decode() or \
        "1 problème" in response.content.decode()
    bad_cron = marketer_client.post("/admin/segments/segment/add/",
                                    _form(LOYAL_AND_REACHABLE, schedule="every day"))
    assert bad_cron.status_code == 200 and not Segment.objects.exists()

    saved = marketer_client.post("/admin/segments/segment/add/",
                                 _form(LOYAL_AND_REACHABLE, schedule="0 6 * * *"))
    assert saved.status_code == 302
    segment = Segment.objects.get(slug="loyal")
    assert segment.definition == LOYAL_AND_REACHABLE and segment.schedule == "0 6 * * *"
    assert segment.event_types == ["purchase"]
    assert AuditEvent.objects.filter(action="segment.create", actor="user:marie").exists()


def test_evaluate_now_runs_the_segment_and_the_page_shows_it(marketer_client, shoppers,
                                                             celery_eager):
    """POST "Evaluate now": a manual run; the page lists it with its counts and members."""
    segment = segment_save(actor="t", name="Loyal", slug="loyal",
                           definition=LOYAL_AND_REACHABLE, schedule="")
    url = f"/admin/segments/segment/{segment.pk}/evaluate/"
    assert marketer_client.get(url).status_code == 302
    assert not SegmentRun.objects.exists()
    response = marketer_client.post(url)
    assert response.status_code == 302
    assert response["Location"].endswith(f"/admin/segments/segment/{segment.pk}/change/")
    run = SegmentRun.objects.get(segment=segment)
    assert (run.status, run.trigger, run.size, run.added) == ("succeeded", "manual", 3, 3)
    page = marketer_client.get(response["Location"]).content.decode()
    assert 'id="segment-runs"' in page and "+3" in page
    for profile_id in shoppers.expected:
        assert f'data-profile="{profile_id}"' in page
    assert f'data-profile="{shoppers.profiles["dan"]}"' not in page


def test_evaluate_now_needs_the_change_permission(client, shoppers):
    """A role without segment rights cannot start a run."""
    segment = segment_save(actor="t", name="Loyal", slug="loyal",
                           definition=LOYAL_AND_REACHABLE, schedule="")
    client.force_login(_user("dora", "dpo"))
    assert client.post(f"/admin/segments/segment/{segment.pk}/evaluate/").status_code == 403
    assert not SegmentRun.objects.exists()


def test_page_chart_runs_and_warnings(shoppers):
    """Sizes over time need two successful runs; warnings are the latest run's."""
    segment = segment_save(actor="t", name="Loyal", slug="loyal",
                           definition=LOYAL_AND_REACHABLE, schedule="")
    now = timezone.now()
    segment_evaluate(segment_id=segment.pk, now=now - dt.timedelta(hours=2))
    assert size_chart(segment) is None
    segment_evaluate(segment_id=segment.pk, now=now)
    chart = json.loads(size_chart(segment))
    assert chart["datasets"][0]["data"] == [3, 3] and len(chart["labels"]) == 2
    with translation.override("en"):
        page = segment_page(segment)
    assert len(page["runs"]) == 2 and not page["running"]
    assert page["warnings"] == ["The segment is small: 3 members (fewer than 50)."]
    assert {m["profile_id"] for m in page["members"]} == shoppers.expected


def test_audiences_show_each_sync_with_its_last_run(shoppers, django_assert_max_num_queries):
    """Every sync of the segment with its latest run, in a fixed number of queries."""
    from connectors.models import AudienceSync, Destination, SyncRun

    segment = segment_save(actor="t", name="Loyal", slug="loyal",
                           definition=LOYAL_AND_REACHABLE, schedule="")
    now = timezone.now()
    for name in ("mc", "hs", "wh"):
        destination = Destination.objects.create(name=name, kind="webhook",
                                                 purpose_id="email_marketing")
        sync = AudienceSync.objects.create(segment=segment, destination=destination,
                                           container={"url": "https://example.org/hook"})
        for minutes, status in ((30, "failed"), (5, "succeeded")):
            SyncRun.objects.create(sync=sync, status=status, trigger="manual", added=minutes,
                                   started_at=now - dt.timedelta(minutes=minutes),
                                   heartbeat_at=now)
    with django_assert_max_num_queries(2):
        audiences = segment_audiences(segment)
    assert [a["destination"].name for a in audiences] == ["hs", "mc", "wh"]
    assert all(a["run"].status == "succeeded" and a["run"].added == 5 for a in audiences)


def test_guard_warnings_read_in_french(db):
    """The guard warnings of a run are shown in the reader's language."""
    from segments.ui.page import guard_warning_text

    with translation.override("fr"):
        assert guard_warning_text("segment is small: 3 members (< 50)") == \
            "Le segment est petit : 3 membres (moins de 50)."
        assert guard_warning_text("segment is empty") == "Le segment est vide."
        assert guard_warning_text("something new") == "something new"


def test_segment_page_queries_do_not_grow_with_runs_and_audiences(
    marketer_client, shoppers, django_assert_max_num_queries
):
    """The segment page costs the same with many runs, members and audiences."""
    from connectors.models import AudienceSync, Destination, SyncRun

    segment = segment_save(actor="t", name="Loyal", slug="loyal",
                           definition=LOYAL_AND_REACHABLE, schedule="")
    url = f"/admin/segments/segment/{segment.pk}/change/"
    now = timezone.now()

    def add(index: int) -> None:
        segment_evaluate(segment_id=segment.pk, now=now + dt.timedelta(minutes=index))
        destination = Destination.objects.create(name=f"hook{index}", kind="webhook",
                                                 purpose_id="email_marketing")
        sync = AudienceSync.objects.create(segment=segment, destination=destination,
                                           container={"url": "https://example.org/hook"})
        SyncRun.objects.create(sync=sync, status="succeeded", trigger="change", added=3,
                               started_at=now, heartbeat_at=now)

    add(0)
    with django_assert_max_num_queries(60) as few:
        assert marketer_client.get(url).status_code == 200
    for index in range(1, 6):
        add(index)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = marketer_client.get(url)
    assert page.content.decode().count('data-sync-status="succeeded"') == 6


def test_segment_list_names_common_schedules(marketer_client, shoppers):
    """The list reads "Every hour", not a cron expression, when it is a common one."""
    segment_save(actor="t", name="Hourly", slug="hourly", definition={"all": []},
                 schedule="0 * * * *")
    segment_save(actor="t", name="Odd", slug="odd", definition={"all": []},
                 schedule="5 4 * * 2")
    html = marketer_client.get("/admin/segments/segment/").content.decode()
    assert "Toutes les heures" in html and "5 4 * * 2" in html
