"""Identity in the browser: a data steward decides a pair from the review queue and finds
the merged profile; the model pages show their charts."""

from cdp.models import SourceRecord
from cdp.roles import Role
from identity.models import IdentityModel, MatchReview
from tests.identity.test_ui import anne_pair, minimal_model, review_of


def _whole(page) -> None:
    """A viewport as tall as the page, so the sticky footer of the admin's form sits at
    the bottom of a full-page screenshot rather than across the middle."""
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": 1440, "height": max(1000, height)})
    page.wait_for_timeout(500)  # charts redraw (and animate) at the new size


def test_steward_accepts_a_pair_and_finds_one_masked_profile(login, screenshot):
    a, b = anne_pair()
    review = review_of(a, b, minimal_model())
    assert a.profile_id != b.profile_id
    page = login("samir", Role.STEWARD)
    page.goto(page.base_url + "/admin/identity/matchreview/")
    screenshot(page, "review-queue")
    page.get_by_role("link", name=f"#{a.pk} — #{b.pk}").click()

    pair = page.locator("#pair-records")
    assert "a***@example.org" in pair.locator("tr[data-field=email] .value-a").inner_text()
    assert "a***@exemple.org" in pair.locator("tr[data-field=email] .value-b").inner_text()
    assert "Morvan" not in pair.inner_text()  # masked for a steward
    assert page.locator("#waterfall svg rect.step").count() >= 6  # prior + comparisons
    assert page.locator("#waterfall svg rect.total").count() == 1
    screenshot(page, "review-pair")

    page.locator("#accept-pair").click()
    page.wait_for_selector("#merged-profile")
    review.refresh_from_db()
    assert review.status == MatchReview.Status.ACCEPTED and review.decided_by == "user:samir"
    merged = {r.profile_id for r in SourceRecord.objects.filter(pk__in=[a.pk, b.pk])}
    assert len(merged) == 1

    page.locator("#merged-profile").click()
    golden = page.locator("#golden-record")
    assert golden.get_attribute("data-masked") == "yes"
    assert golden.locator("tr[data-field=first_name] .golden-value").inner_text() == "A***"
    assert "@" in golden.locator("tr[data-field=email] .golden-value").inner_text()
    assert "anne.morvan" not in page.content()
    assert page.locator("#record-graph svg circle.node").count() == 2
    assert page.locator("#record-graph svg line.edge").count() == 1
    assert page.locator("#profile-records tr[data-record]").count() == 2
    assert page.locator("#identity-events tr[data-kind=merge]").count() >= 1
    _whole(page)
    screenshot(page, "profile-page")

    # Unmerge asks first; confirming splits the record off again.
    page.locator(f"#profile-records tr[data-record='{b.pk}'] .unmerge-link").click()
    page.wait_for_selector("#unmerge-confirm")
    page.fill("input[name=reason]", "deux personnes")
    page.locator("#confirm-unmerge").click()
    page.wait_for_selector("#golden-record")
    assert (SourceRecord.objects.get(pk=a.pk).profile_id
            != SourceRecord.objects.get(pk=b.pk).profile_id)


def test_identity_model_page_draws_its_charts_offline(login, screenshot):
    a, b = anne_pair()
    model = minimal_model()
    review_of(a, b, model)
    page = login("samir", Role.STEWARD)
    page.goto(f"{page.base_url}/admin/identity/identitymodel/{model.pk}/change/")
    for chart in ("#chart-match-weights", "#chart-m-u", "#chart-histogram"):
        canvas = page.locator(f"{chart} canvas")
        assert canvas.is_visible() and canvas.bounding_box()["height"] > 100
    assert "Exact match on email" in page.locator("#model-parameters").inner_text()
    _whole(page)
    screenshot(page, "identity-model")
    assert IdentityModel.objects.get().active


def test_model_version_pages_show_their_metrics_charts(login, screenshot):
    """Segment models (same page family): clustering shows elbow and silhouette,
    a propensity model ROC and calibration, drawn server-side."""
    from segments.ml.registry import model_train, segment_model_save
    from tests.segments.ml_data import NOW, planted_traits, propensity_data

    planted_traits(per_blob=30)
    groups = segment_model_save(actor="t", name="Groupes", slug="groups", kind="clustering",
                                algorithm="kmeans",
                                features={"traits": ["purchase_count", "avg_basket"]},
                                params={"bootstrap": 3, "k_max": 6})
    clusters = model_train(model_id=groups.pk, now=NOW)
    propensity_data(count=300)
    buyers = segment_model_save(actor="t", name="Achat 30 j", slug="buyers",
                                kind="propensity",
                                params={"n_estimators": 20, "max_iter": 30})
    propensity = model_train(model_id=buyers.pk, now=NOW)

    page = login("marie", Role.MARKETER)
    page.goto(f"{page.base_url}/admin/segments/modelversion/{clusters.pk}/change/")
    charts = page.locator("#model-charts")
    for name in ("elbow", "silhouette"):
        assert charts.locator(f"[data-chart={name}] svg").is_visible(), name
    _whole(page)
    screenshot(page, "model-version-clustering")
    page.goto(f"{page.base_url}/admin/segments/modelversion/{propensity.pk}/change/")
    for name in ("roc", "calibration"):
        assert charts.locator(f"[data-chart={name}] svg").is_visible(), name
    assert "AUC" in page.locator("#model-metrics").inner_text()
    _whole(page)
    screenshot(page, "model-version")
