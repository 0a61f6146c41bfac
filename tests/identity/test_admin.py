"""The review queue in the admin: stewards decide, others are refused; model charts."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from cdp.models import Source, SourceRecord
from cdp.services.record_parsing import ParsedRecord
from cdp.services.records import records_upsert
from identity.models import IdentityModel, MatchReview

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def _login(client, name: str, group: str):
    user = get_user_model().objects.create_user(name, f"{name}@cdp.test", "pw-123456",
                                                is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    client.force_login(user)
    return user


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


def test_model_page_shows_training_charts(admin_client, db):
    model = IdentityModel.objects.create(version=1, trained_at=NOW, record_count=10,
                                         splink_model={}, charts={"match_weights": "<b>w</b>"})
    page = admin_client.get(f"/admin/identity/identitymodel/{model.pk}/change/")
    assert page.status_code == 200 and b"match_weights" in page.content
