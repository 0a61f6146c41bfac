"""A marketer builds an audience with the segment builder (no JSON typed), previews it,
saves it, evaluates it and sees it delivered to Mailchimp on the segment page."""

import json

import httpx
import pytest

from cdp.roles import Role
from cdp.services.api_keys import api_key_create
from connectors.services import destination_save, sync_save
from segments.models import Segment, SegmentRun
from tests.connectors.conftest import LIST_ID
from tests.segments.test_builder import LOYAL_AND_REACHABLE, shoppers_add, shoppers_create

TAG = "cdp:loyal"


@pytest.fixture
def shop(transactional_db):
    return shoppers_create()


def _api_preview_count(base_url: str, definition: dict) -> int:
    _, raw = api_key_create(name="campaign-tool", scopes=["marketer"])
    response = httpx.post(f"{base_url}/api/v1/segments/preview", json={"definition": definition},
                          headers={"Authorization": f"Api-Key {raw}"}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["count"]


def _whole_page(page, screenshot, name: str) -> None:
    """As tall a window as the page: the form's sticky save bar stays at the bottom."""
    page.wait_for_function(
        "document.querySelector('[data-segment-builder]').dataset.previewState === 'done'")
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": 1440, "height": height})
    screenshot(page, name)
    page.set_viewport_size({"width": 1440, "height": 1000})


def _condition(page, index: int):
    return page.locator(f'[data-path="$.all[{index}]"]')


def _build_loyal_and_reachable(page) -> None:
    """Clicks and picks only: event condition, then consent condition."""
    page.select_option("[data-action=add-condition] >> nth=-1", "event")
    event = _condition(page, 0)
    event.locator("[data-field=event]").select_option("purchase")
    event.locator("[data-field=aggregate]").select_option("count")
    event.locator("[data-field=aggregate-op]").select_option("gte")
    event.locator("[data-field=value]").fill("3")
    event.locator("[data-field=window]").select_option("within_days")
    event.locator("[data-field=within_days]").fill("7")
    page.select_option("[data-action=add-condition] >> nth=-1", "consent")
    _condition(page, 1).locator("[data-field=consent]").select_option("email_marketing")


def test_marketer_builds_previews_saves_runs_and_syncs_a_segment(
    login, screenshot, shop, mailchimp, celery_eager
):
    page = login("marie", Role.MARKETER)
    page.goto(page.base_url + "/admin/segments/segment/add/")
    page.fill("input[name=name]", "Fidèles joignables")
    _build_loyal_and_reachable(page)
    page.select_option("[data-schedule-preset]", "0 6 * * *")

    builder = page.locator("[data-segment-builder]")
    page.wait_for_function(
        "document.querySelector('[data-segment-builder]').dataset.previewState === 'done'")
    shown = int(builder.locator("[data-count]").get_attribute("data-value"))
    assert shown == len(shop.expected) == _api_preview_count(page.base_url, LOYAL_AND_REACHABLE)
    assert builder.locator(".sb-sample tbody tr").count() == len(shop.expected)
    assert "@cdp.test" not in builder.locator("[data-sample]").inner_text()  # masked
    assert page.locator("textarea[name=definition]").is_hidden()  # no JSON to read
    _whole_page(page, screenshot, "segment-builder")

    page.click("button[name=_continue]")
    segment = Segment.objects.get(name="Fidèles joignables")
    assert segment.definition == LOYAL_AND_REACHABLE
    assert (segment.slug, segment.schedule) == ("fideles-joignables", "0 6 * * *")

    destination = destination_save(
        actor="admin", name="mailchimp-newsletter", kind="mailchimp", purpose="email_marketing",
        credentials={"api_key": mailchimp.api_key}, base_url=mailchimp.base_url_template,
        field_mapping={"FNAME": "first_name"}, timeout_s=5)
    sync_save(actor="admin", segment=segment, destination=destination,
              container={"list_id": LIST_ID, "tag": TAG})
    page.reload()
    assert page.locator("[data-sync-status=never]").count() == 1

    page.click("#evaluate-now")
    page.wait_for_selector("#segment-runs [data-run-status=succeeded]")
    run = SegmentRun.objects.get(segment=segment)
    assert (run.trigger, run.size, run.added) == ("manual", 3, 3)
    assert page.locator("#segment-size").inner_text() == "3"
    assert page.locator("#segment-runs [data-added]").first.inner_text() == "+3"
    members = {row.get_attribute("data-profile")
               for row in page.locator("#segment-members tr[data-profile]").all()}
    assert members == {str(p) for p in shop.expected}

    audience = page.locator("#segment-audiences [data-sync-status=succeeded]")
    assert audience.count() == 1
    assert "3 ajouté" in audience.locator("[data-sync-counts]").inner_text()
    assert mailchimp.tag_members(TAG) == {"ana@cdp.test", "bob@cdp.test", "fay@cdp.test"}

    # A fourth loyal customer: the next run adds them, the chart shows the growth.
    shoppers_add(shop, "hal", purchases=3)
    page.click("#evaluate-now")
    page.wait_for_selector("#segment-runs tr[data-run-status] >> nth=1")
    assert page.locator("#segment-size").inner_text() == "4"
    sizes = "Chart.getChart(document.querySelector('#size-chart canvas')).data.datasets[0].data"
    assert page.evaluate(sizes) == [3, 4]
    assert "1 ajouté" in page.locator("#segment-audiences [data-sync-counts]").inner_text()
    assert "hal@cdp.test" in mailchimp.tag_members(TAG)
    _whole_page(page, screenshot, "segment-page")


def test_power_user_edits_json_and_problems_show_next_to_their_condition(login, shop):
    page = login("marie", Role.MARKETER)
    page.goto(page.base_url + "/admin/segments/segment/add/")
    _build_loyal_and_reachable(page)
    page.click("[data-action=toggle-json]")
    textarea = page.locator("textarea[name=definition]")
    assert textarea.is_visible()
    written = textarea.input_value()
    assert '"within_days": 7' in written and '"consent": "email_marketing"' in written
    textarea.fill(written.replace('"within_days": 7', '"within_days": 0'))
    page.click("[data-action=toggle-json]")  # back to the builder, with the edit
    event = _condition(page, 0)
    assert event.locator("[data-field=within_days]").input_value() == "0"
    problem = event.locator("[data-error-path='$.all[0].within_days']")
    problem.wait_for()
    assert "at least 1" in problem.inner_text()
    assert _condition(page, 1).locator("[data-error-path]").count() == 0

    # Nested groups and NOT, by clicks: the JSON follows each step.
    page.click("[data-action=add-group] >> nth=-1")
    group = page.locator('[data-path="$.all[2]"]')
    group.locator("[data-field=group]").select_option("any")
    group.locator("[data-action=add-condition]").select_option("attribute")
    city = page.locator('[data-path="$.all[2].any[0]"]')
    city.locator("[data-field=attribute]").select_option("city")
    city.locator("[data-field=op]").select_option("in")
    city.locator("[data-field=value]").fill("Brest, Quimper")
    group.locator(":scope > .sb-head [data-field=not]").click()  # re-draws the tree
    page.click("[data-action=toggle-json]")
    assert json.loads(textarea.input_value())["all"][2] == {"not": {"any": [
        {"attribute": "city", "op": "in", "value": ["Brest", "Quimper"]}]}}
    page.click("[data-action=toggle-json]")
    negated = page.locator('[data-path="$.all[2].not"]')
    assert negated.locator(":scope > .sb-head [data-field=not]").is_checked()
    negated.locator(":scope > .sb-head [data-field=not]").click()
    page.click("[data-action=toggle-json]")
    assert json.loads(textarea.input_value())["all"][2] == {"any": [
        {"attribute": "city", "op": "in", "value": ["Brest", "Quimper"]}]}
    page.click("[data-action=toggle-json]")

    page.fill("input[name=name]", "Brouillon")
    page.click("button[name=_save]")  # refused: the problem stays next to its condition
    page.locator("[data-error-path='$.all[0].within_days']").wait_for()
    assert not Segment.objects.exists()


EVERY_KIND = {"all": [
    {"attribute": "attributes.tier", "op": "in", "value": ["gold", "silver"]},
    {"attribute": "postcode", "op": "starts_with", "value": "29"},
    {"trait": "revenue_90d", "op": "between", "value": [100, 500]},
    {"trait": "days_since_last_purchase", "op": "lte", "value": 30},
    {"event": "purchase", "sum": {"gte": 50}, "between": ["2026-01-01", "2026-03-31"],
     "where": [{"property": "channel", "op": "eq", "value": "web"}]},
    {"any": [{"consent": "email_marketing"}, {"not": {"segment": "loyal"}}]},
    {"model": "groups", "cluster": 1},
]}


def test_every_condition_kind_is_drawn_and_written_back_unchanged(login, shop):
    from segments.models import SegmentModel
    from segments.services import segment_save

    SegmentModel.objects.create(name="Customer groups", slug="groups", kind="clustering",
                                algorithm="kmeans", features={"traits": ["purchase_count"]})
    segment_save(actor="t", name="Loyal", slug="loyal", definition={"all": []}, schedule="")
    segment = segment_save(actor="t", name="Everything", slug="everything",
                           definition=EVERY_KIND, schedule="")
    page = login("marie", Role.MARKETER)
    page.goto(f"{page.base_url}/admin/segments/segment/{segment.pk}/change/")
    builder = page.locator("[data-segment-builder]")
    assert builder.locator(".sb-raw").count() == 0  # every node has its pickers
    assert builder.locator("[data-path='$.all[5].any[1].not'] [data-field=not]").is_checked()
    event = builder.locator("[data-path='$.all[4]']")
    assert event.locator("[data-field=aggregate]").input_value() == "sum"
    assert event.locator("[data-field=window]").input_value() == "between"
    assert event.locator("[data-field=property]").input_value() == "channel"
    custom = builder.locator("[data-path='$.all[0]']")
    assert custom.locator("[data-field=attribute-key]").input_value() == "tier"
    page.wait_for_function(
        "document.querySelector('[data-segment-builder]').dataset.previewState === 'done'")
    page.click("[data-action=toggle-json]")
    assert json.loads(page.locator("textarea[name=definition]").input_value()) == EVERY_KIND
