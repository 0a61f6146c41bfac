"""The identity pages: profile (golden record, records, graph, events), review pair with
its decision, unmerge with its confirmation, model page; and their selectors."""

import datetime as dt
from xml.etree import ElementTree

import duckdb
import pytest

from cdp.models import AuditEvent, Profile, Source, SourceRecord
from cdp.services.record_parsing import ParsedRecord
from cdp.services.records import records_upsert
from identity.golden import golden_refresh
from identity.loading import records_table
from identity.matching import model_settings
from identity.models import IdentityModel, MatchReview
from identity.scoring import score
from identity.ui.charts import graph_svg, waterfall_svg
from identity.ui.pairs import pair_scores
from tests.conftest import staff_login

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
SVG = "{http://www.w3.org/2000/svg}"
ANNE = {"first_name": "Anne", "last_name": "Morvan", "email": "anne.morvan@example.org",
        "phone": "+33612345678", "birth_date": "1985-03-14", "address_line1": "3 rue Haute",
        "postcode": "35000", "city": "Rennes"}
ANNE_SHOP = {"first_name": "Anne", "last_name": "Morvan", "email": "anne.morvan@exemple.org",
             "phone": "+33687654321", "birth_date": "1985-03-14", "postcode": "35000",
             "city": "Rennes"}


def minimal_model(version: int = 90) -> IdentityModel:
    """The real model definition with fixed m/u instead of trained ones (training Splink
    takes seconds): the exact level of each comparison is strong evidence, "else" is
    evidence against, the levels between are weaker. A version number of its own:
    identity.scoring caches a compiled model per version for the process."""
    model = model_settings().get_settings("duckdb").as_dict()
    for comparison in model["comparisons"]:
        real = [lvl for lvl in comparison["comparison_levels"] if not lvl.get("is_null_level")]
        for position, level in enumerate(real):
            last = position == len(real) - 1
            level["m_probability"] = 0.05 if last else 0.8 / 2 ** position
            level["u_probability"] = 0.9 if last else 0.01 * 4 ** position
    return IdentityModel.objects.create(version=version, trained_at=NOW, record_count=2,
                                        splink_model=model, active=True,
                                        report={"em_s": 1.5, "u_s": 0.4})


def anne_pair() -> tuple[SourceRecord, SourceRecord]:
    """Anne in the CRM and, with another phone and a typo in the email domain, in the
    shop: two profiles (nothing exact links them at ingestion)."""
    crm = Source.objects.get_or_create(name="crm", defaults={"priority": 200})[0]
    shop = Source.objects.get_or_create(name="shop")[0]
    records_upsert(source=crm, records=[ParsedRecord("c-anne", ANNE)])
    records_upsert(source=shop, records=[ParsedRecord("s-anne", ANNE_SHOP)])
    return (SourceRecord.objects.get(external_id="c-anne"),
            SourceRecord.objects.get(external_id="s-anne"))


def review_of(a: SourceRecord, b: SourceRecord, model: IdentityModel) -> MatchReview:
    """A review row as resolution writes one: probability and per-comparison steps."""
    (scored,) = pair_scores(record_ids=[a.pk, b.pk], model=model)
    return MatchReview.objects.create(
        record_a_id=min(a.pk, b.pk), record_b_id=max(a.pk, b.pk),
        probability=scored.probability, explanation=list(scored.steps),
        model_version=model.version, created_at=NOW)


def _login(client, name: str, group: str):
    return staff_login(client, name, group)


@pytest.fixture
def pair(db):
    a, b = anne_pair()
    return a, b, review_of(a, b, minimal_model())


def test_pair_scores_agree_with_the_incremental_scorer(pair):
    """The explained total equals identity.scoring's probability for the same pair."""
    a, b, review = pair
    model = IdentityModel.objects.get()
    (explained,) = pair_scores(record_ids=[a.pk, b.pk], model=model)
    con = duckdb.connect()
    records_table(con, name="new_records", record_ids=[min(a.pk, b.pk)], workers=1)
    records_table(con, name="candidates", record_ids=[max(a.pk, b.pk)], workers=1)
    ((_, _, expected),) = score(con, model.splink_model, model.version, {})
    con.close()
    assert explained.probability == pytest.approx(expected, rel=1e-9)
    levels = {s["comparison"]: s["level"] for s in explained.steps}
    assert levels["first_name"] == "Exact match on first_name"
    assert levels["email"].startswith("(Exact match on email_local) AND")
    assert levels["address"] == "Exact match on postcode"  # no address line in the shop
    weights = {s["comparison"]: s["weight"] for s in explained.steps}
    assert weights["birth_date"] > 0 > weights["phone"]


def test_waterfall_and_graph_are_svg_with_a_bar_per_step_and_an_edge_per_pair():
    steps = [{"comparison": "email", "level": "one edit", "weight": 6.1},
             {"comparison": "phone", "level": "else", "weight": -4.0},
             {"comparison": "city", "level": "null", "weight": None}]
    root = ElementTree.fromstring(waterfall_svg(steps, prior=-10.0))  # noqa: S314 - ours
    bars = root.findall(f"{SVG}rect[@class='step']")
    assert len(bars) == 3  # prior, email, phone; the null level has no bar
    text = "".join(root.itertext())
    assert "-7.90" in text and "one edit" in text  # -10 + 6.1 - 4
    graph = ElementTree.fromstring(graph_svg(  # noqa: S314 - ours
        [(1, "crm:a"), (2, "shop:b"), (3, "web:c")], [(1, 2, 0.99), (2, 3, 0.5)],
        link=0.95, review=0.7))
    assert len(graph.findall(f"{SVG}circle")) == 3
    assert len(graph.findall(f"{SVG}line[@class='edge']")) == 2


def test_steward_sees_the_pair_masked_side_by_side_and_accepts_it(client, pair):
    a, b, review = pair
    _login(client, "steward1", "data_steward")
    page = client.get(f"/admin/identity/matchreview/{review.pk}/change/")
    content = page.content.decode()
    assert page.status_code == 200
    assert "a***@example.org" in content and "a***@exemple.org" in content
    assert "anne.morvan" not in content and "Morvan" not in content
    assert 'id="waterfall"' in content and "<svg" in content
    assert AuditEvent.objects.filter(action="record.view", object_id__in=[
        str(a.pk), str(b.pk)]).count() == 2
    response = client.post(f"/admin/identity/matchreview/{review.pk}/decide/",
                           {"decision": "accept"})
    assert response.status_code == 302
    review.refresh_from_db()
    assert review.status == "accepted" and review.decided_by == "user:steward1"
    assert len({r.profile_id for r in SourceRecord.objects.all()}) == 1
    again = client.post(f"/admin/identity/matchreview/{review.pk}/decide/",
                        {"decision": "reject"})
    review.refresh_from_db()
    assert again.status_code == 302 and review.status == "accepted"


def test_marketer_may_not_decide_and_dpo_sees_clear_values(client, pair):
    _, _, review = pair
    _login(client, "mkt", "marketer")
    assert client.post(f"/admin/identity/matchreview/{review.pk}/decide/",
                       {"decision": "accept"}).status_code == 403
    review.refresh_from_db()
    assert review.status == "pending"
    _login(client, "dpo1", "dpo")
    assert client.get(f"/admin/identity/matchreview/{review.pk}/change/").status_code == 403
    refusals = AuditEvent.objects.filter(action="access.denied").order_by("id")
    assert [(r.actor, r.object_id) for r in refusals] == [
        ("user:mkt", "identity.matchreview:decide"), ("user:dpo1", "identity.matchreview:view")]


def test_admin_sees_the_pair_in_clear(admin_client, pair):
    _, _, review = pair
    content = admin_client.get(f"/admin/identity/matchreview/{review.pk}/change/") \
        .content.decode()
    assert "anne.morvan@example.org" in content and 'id="accept-pair"' in content


def test_queue_lists_pending_pairs_by_default(client, pair):
    _, _, review = pair
    label = f"#{review.record_a_id} — #{review.record_b_id}".encode()
    _login(client, "steward2", "data_steward")
    page = client.get("/admin/identity/matchreview/")
    assert page.status_code == 200 and label in page.content
    assert label not in client.get("/admin/identity/matchreview/?state=accepted").content
    client.post(f"/admin/identity/matchreview/{review.pk}/decide/", {"decision": "reject"})
    assert label not in client.get("/admin/identity/matchreview/").content
    assert label in client.get("/admin/identity/matchreview/?state=rejected").content


def test_profile_page_golden_record_masked_for_steward_audited_once(client, pair):
    a, b, review = pair
    golden_refresh(profile_ids=[a.profile_id])
    _login(client, "steward3", "data_steward")
    before = AuditEvent.objects.filter(action="profile.view").count()
    page = client.get(f"/admin/cdp/profile/{a.profile_id}/change/")
    content = page.content.decode()
    assert page.status_code == 200
    assert 'id="golden-record" data-masked="yes"' in content
    assert "a***@example.org" in content and "anne.morvan@example.org" not in content
    assert "crm:c-anne" in content
    assert AuditEvent.objects.filter(action="profile.view").count() == before + 1
    row = AuditEvent.objects.filter(action="profile.view").latest("id")
    assert row.profile_id == a.profile_id and row.details["masked"] is True


def test_profile_page_in_clear_for_dpo_with_graph_after_a_merge(client, pair):
    a, b, review = pair
    from identity.services import review_decide

    review_decide(review=review, same_person=True, actor="t")
    profile_id = SourceRecord.objects.get(pk=a.pk).profile_id
    _login(client, "dpo2", "dpo")
    content = client.get(f"/admin/cdp/profile/{profile_id}/change/").content.decode()
    assert 'data-masked="no"' in content and "anne.morvan@example.org" in content
    assert 'class="edge"' in content and 'id="graph-pairs"' in content
    assert 'data-kind="merge"' in content  # the identity history
    assert "unmerge-link" not in content  # stewards unmerge, not the DPO


def test_a_merged_away_profile_id_leads_to_the_profile_that_took_it(admin_client, pair):
    a, b, review = pair
    from identity.services import review_decide

    ids = {a.profile_id, b.profile_id}
    review_decide(review=review, same_person=True, actor="t")
    kept = SourceRecord.objects.get(pk=a.pk).profile_id
    (gone,) = ids - {kept}
    response = admin_client.get(f"/admin/cdp/profile/{gone}/change/")
    assert response.status_code == 302 and str(kept) in response["Location"]


def test_unmerge_asks_for_confirmation_then_splits(client, pair):
    a, b, review = pair
    from identity.services import review_decide

    review_decide(review=review, same_person=True, actor="t")
    profile_id = SourceRecord.objects.get(pk=a.pk).profile_id
    _login(client, "steward4", "data_steward")
    url = f"/admin/cdp/profile/{profile_id}/unmerge/{b.pk}/"
    confirm = client.get(url)
    assert confirm.status_code == 200 and b"confirm-unmerge" in confirm.content
    assert SourceRecord.objects.get(pk=b.pk).profile_id == profile_id  # nothing yet
    assert client.post(url, {"reason": ""}).status_code == 200  # a reason is required
    done = client.post(url, {"reason": "two sisters"})
    new_id = SourceRecord.objects.get(pk=b.pk).profile_id
    assert done.status_code == 302 and new_id != profile_id and str(new_id) in done["Location"]
    assert Profile.objects.filter(pk=new_id).exists()


def test_marketer_may_not_unmerge(client, pair):
    a, b, review = pair
    _login(client, "mkt2", "marketer")
    response = client.post(f"/admin/cdp/profile/{a.profile_id}/unmerge/{a.pk}/",
                           {"reason": "x"})
    assert response.status_code == 403
    assert AuditEvent.objects.filter(action="access.denied", actor="user:mkt2",
                                     object_id="cdp.profile:unmerge").count() == 1


def test_model_page_draws_parameters_and_the_decisions_histogram(client, pair):
    _, _, review = pair
    model = IdentityModel.objects.get()
    _login(client, "steward5", "data_steward")
    content = client.get(f"/admin/identity/identitymodel/{model.pk}/change/").content.decode()
    assert 'id="chart-match-weights"' in content and 'id="chart-histogram"' in content
    assert "Exact match on email" in content
    assert "cdn." not in content  # nothing loaded from the internet


def test_queue_query_count_does_not_grow_with_pairs(client, pair, django_assert_max_num_queries):
    a, b, review = pair
    _login(client, "steward6", "data_steward")
    client.get("/admin/identity/matchreview/")  # warm caches (content types, roles)
    source = Source.objects.get(name="shop")
    records_upsert(source=source, records=[ParsedRecord(f"x{i}", {"city": "Brest"})
                                           for i in range(6)])
    ids = sorted(SourceRecord.objects.filter(external_id__startswith="x")
                 .values_list("pk", flat=True))
    MatchReview.objects.bulk_create([
        MatchReview(record_a_id=ids[i], record_b_id=ids[i + 1], probability=0.8,
                    created_at=NOW) for i in range(0, 6, 2)])
    with django_assert_max_num_queries(20):
        page = client.get("/admin/identity/matchreview/")
    for i in range(0, 6, 2):
        assert f"#{ids[i]} — #{ids[i + 1]}" in page.content.decode()
