"""The review queue in the admin: stewards decide, others are refused; the model page."""

import datetime as dt

import pytest

from cdp.models import Source, SourceRecord
from cdp.services.record_parsing import ParsedRecord
from cdp.services.records import records_upsert
from identity.models import IdentityModel, MatchReview
from tests.conftest import staff_login

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def _login(client, name: str, group: str):
    return staff_login(client, name, group)


@pytest.fixture
def pair(db):
    crm = Source.objects.create(name="crm")
    records_upsert(source=crm, records=[ParsedRecord("a", {"email": "anne@cdp.test"}),
                                        ParsedRecord("b", {"email": "a.m@cdp.test"})])
    a, b = sorted(SourceRecord.objects.values_list("pk", flat=True))
    return MatchReview.objects.create(record_a_id=a, record_b_id=b, probability=0.8,
                                      created_at=NOW, explanation=[
                                          {"comparison": "email", "level": "one edit",
                                           "weight": 6.1}])


def test_steward_accepts_a_pair_and_the_profiles_merge(client, pair):
    _login(client, "steward1", "data_steward")
    page = client.get(f"/admin/identity/matchreview/{pair.pk}/change/")
    assert page.status_code == 200 and b"one edit" in page.content
    client.post("/admin/identity/matchreview/", {"action": "same_person",
                                                 "_selected_action": [pair.pk]})
    pair.refresh_from_db()
    assert pair.status == "accepted" and pair.decided_by == "user:steward1"
    profiles = set(SourceRecord.objects.values_list("profile_id", flat=True))
    assert len(profiles) == 1


def test_marketer_cannot_decide(client, pair):
    _login(client, "mkt1", "marketer")
    response = client.post("/admin/identity/matchreview/", {
        "action": "same_person", "_selected_action": [pair.pk]})
    assert response.status_code == 403
    pair.refresh_from_db()
    assert pair.status == "pending"


def test_model_page_draws_its_parameters_without_splinks_html(admin_client, db):
    """Splink's saved charts load vega from a CDN: the page draws the model's own
    parameters instead, and copes with a model without any."""
    model = IdentityModel.objects.create(
        version=1, trained_at=NOW, record_count=10, report={"em_s": 2.5},
        charts={"match_weights": "<script src='https://cdn.jsdelivr.net/npm/vega@5'>"},
        splink_model={"probability_two_random_records_match": 0.001, "comparisons": [
            {"output_column_name": "phone", "comparison_levels": [
                {"sql_condition": "phone_l IS NULL", "is_null_level": True},
                {"sql_condition": "phone_l = phone_r", "label_for_charts": "Exact match on phone",
                 "m_probability": 0.8, "u_probability": 0.001},
                {"sql_condition": "ELSE", "label_for_charts": "All other comparisons",
                 "m_probability": 0.2, "u_probability": 0.999}]}]})
    content = admin_client.get(f"/admin/identity/identitymodel/{model.pk}/change/") \
        .content.decode()
    assert 'id="chart-match-weights"' in content and "phone: exact" in content
    assert "9.64" in content.replace(",", ".")  # log2(0.8 / 0.001)
    assert "cdn.jsdelivr" not in content and "em_s" in content
    empty = IdentityModel.objects.create(version=2, trained_at=NOW, record_count=0,
                                         splink_model={})
    page = admin_client.get(f"/admin/identity/identitymodel/{empty.pk}/change/")
    assert page.status_code == 200 and 'id="model-parameters"' in page.content.decode()
