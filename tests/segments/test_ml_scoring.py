"""Scoring: eligible profiles only, chunked, replacing the model's rows; rules read them in
the same single query; consent, restriction, erasure and the DSAR follow; drift is kept."""

import datetime as dt

import pytest

from cdp.models import Profile, Source
from cdp.privacy.subject_data import subject_sections
from cdp.services.consents import consents_withdraw
from cdp.services.erasure import profiles_erase
from cdp.services.restriction import profile_restrict
from segments.evaluation import segment_evaluate
from segments.ml.registry import model_train, model_version_activate, segment_model_save
from segments.ml.scoring import model_score
from segments.models import ModelScoringRun, ProfileScore, SegmentRun
from segments.rules import compile_definition, validate_definition
from segments.services import SegmentInvalid, segment_save
from segments.traits import traits_recompute_all
from tests.segments.ml_data import (
    DAY,
    NOW,
    event,
    planted_traits,
    profiles,
    propensity_data,
    save,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def scored(celery_eager, django_capture_on_commit_callbacks):
    """A propensity model trained and scored on 300 profiles, 40 more without consent."""
    people = propensity_data(count=300)
    refused = profiles(40, consent=False)
    save([event(p, "purchase", NOW - 5 * DAY, 20) for p in refused])
    traits_recompute_all(now=NOW)
    model = segment_model_save(actor="test", name="Buy", slug="buy-30d", kind="propensity",
                               algorithm="logistic")
    version = model_train(model_id=model.pk, now=NOW, activate=False)
    model_version_activate(version=version, actor="test", queue_scoring=False)
    run = model_score(model_id=model.pk, now=NOW, chunk_rows=64)
    return {"model": model, "version": version, "run": run, "people": people,
            "refused": refused}


def _members(definition):
    q = compile_definition(definition, now=NOW)
    return set(Profile.objects.filter(q).values_list("pk", flat=True))


def test_every_allowed_profile_is_scored_in_chunks_and_nobody_else(scored):
    run = scored["run"]
    assert run.status == ModelScoringRun.Status.SUCCEEDED
    assert run.profiles == ProfileScore.objects.count() == 300
    assert not ProfileScore.objects.filter(profile__in=scored["refused"]).exists()
    assert run.psi is not None and run.psi < 0.25  # scored as of the training data
    scores = list(ProfileScore.objects.values_list("score", flat=True))
    assert all(0 <= s <= 1 for s in scores) and len(set(scores)) > 50
    assert set(ProfileScore.objects.values_list("version_id", flat=True)) == {
        scored["version"].pk}


def test_a_new_scoring_replaces_the_rows_of_the_model(scored):
    again = model_score(model_id=scored["model"].pk, now=NOW)
    assert again.profiles == ProfileScore.objects.count() == 300


def test_rules_read_scores_and_clusters_in_the_same_single_query(
    scored, django_assert_num_queries
):
    high = set(ProfileScore.objects.filter(score__gte=0.7).values_list("profile_id", flat=True))
    assert high and _members({"model": "buy-30d", "score": {"gte": 0.7}}) == high
    low = _members({"model": "buy-30d", "score": {"between": [0, 0.3]}})
    assert low and not low & high
    unscored = set(p.pk for p in scored["refused"])
    assert unscored <= _members({"not": {"model": "buy-30d", "score": {"gte": 0.7}}})
    definition = {"all": [{"model": "buy-30d", "score": {"gte": 0.5}},
                          {"event": "purchase", "count": {"gte": 1}, "within_days": 30}]}
    with django_assert_num_queries(1):
        list(Profile.objects.filter(compile_definition(definition, now=NOW))
             .values_list("pk", flat=True))


def test_cluster_conditions_and_their_validation(celery_eager):
    planted_traits(per_blob=40)
    model = segment_model_save(actor="test", name="groups", slug="groups", kind="clustering",
                               params={"k": 4, "bootstrap": 0},
                               features={"traits": ["purchase_count", "avg_basket"]})
    model_train(model_id=model.pk, now=NOW)
    model_score(model_id=model.pk, now=NOW)
    in_two = set(ProfileScore.objects.filter(cluster=2).values_list("profile_id", flat=True))
    assert len(in_two) == 40 and _members({"model": "groups", "cluster": 2}) == in_two
    from segments.ml.registry import segment_model_resolve

    def errors(definition):
        return [(e.path, e.message) for e in validate_definition(
            definition, resolve_model=segment_model_resolve)]

    assert errors({"model": "groups", "cluster": 3}) == []
    assert errors({"model": "groups", "cluster": 4}) == [
        ("$.cluster", "the active version of 'groups' has clusters 0 to 3")]
    assert errors({"model": "groups", "score": {"gte": 0.5}})[0][0] == "$.score"
    assert errors({"model": "nope", "cluster": 1}) == [("$.model", "unknown model 'nope'")]
    with pytest.raises(SegmentInvalid, match="unknown model"):
        segment_save(actor="t", name="x", slug="x", definition={"model": "nope", "cluster": 0})


def test_segments_using_the_model_are_evaluated_after_scoring(
    scored, django_capture_on_commit_callbacks
):
    segment = segment_save(actor="t", name="likely", slug="likely",
                           definition={"model": "buy-30d", "score": {"gte": 0.7}}, schedule="")
    with django_capture_on_commit_callbacks(execute=True):
        model_score(model_id=scored["model"].pk, now=NOW)
    run = SegmentRun.objects.get(segment=segment)
    assert run.trigger == "event" and run.size == ProfileScore.objects.filter(
        score__gte=0.7).count()


def test_withdrawing_profiling_consent_or_restriction_removes_the_scores(
    scored, django_capture_on_commit_callbacks
):
    first, second = scored["people"][:2]
    segment = segment_save(actor="t", name="all", slug="all-scored", schedule="",
                           definition={"model": "buy-30d", "score": {"gte": 0}})
    segment_evaluate(segment_id=segment.pk, now=NOW)
    assert segment.memberships.filter(profile=first, exited_at__isnull=True).exists()
    with django_capture_on_commit_callbacks(execute=True):
        consents_withdraw(profile_ids=[first.pk], purpose="profiling",
                          source=Source.objects.get(name="shop"), channel="web",
                          evidence={"form": "preferences"}, recorded_by="test")
    assert not ProfileScore.objects.filter(profile=first).exists()
    assert not segment.memberships.filter(profile=first, exited_at__isnull=True).exists()
    with django_capture_on_commit_callbacks(execute=True):
        profile_restrict(profile=second, actor="test", reason="Art. 18 request")
    assert not ProfileScore.objects.filter(profile=second).exists()
    assert ProfileScore.objects.count() == 298
    rerun = model_score(model_id=scored["model"].pk)
    assert not ProfileScore.objects.filter(profile__in=[first, second]).exists()
    assert rerun.profiles <= 298


def test_the_access_archive_explains_the_scores_and_erasure_deletes_them(scored):
    person = scored["people"][0]
    (row,) = subject_sections([person.pk])["model_scores"]
    assert row["model_slug"] == "buy-30d" and 0 <= row["score"] <= 1
    assert row["version"] == scored["version"].number
    assert "how likely you are to buy in the next 30 days" in row["logic"]
    assert "withdrawing your consent to profiling" in row["logic"]
    profiles_erase(profile_ids=[person.pk], actor="test", reason="Art. 17 request")
    assert not ProfileScore.objects.filter(profile_id=person.pk).exists()


def test_drift_between_versions_is_recorded_and_warned_past_the_threshold(scored, settings):
    # A month later, half of them bought a lot: the new version learns other weights.
    later = NOW + dt.timedelta(days=30)
    save([event(p, "purchase", later - i * DAY, 50) for p in scored["people"][::2]
          for i in range(1, 11)])
    traits_recompute_all(now=later)
    settings.CDP_MODEL_DRIFT_PSI_WARN = 0.01
    version = model_train(model_id=scored["model"].pk, now=later, activate=False)
    assert version.drift["against"] == scored["version"].number
    assert version.drift["psi"] > 0.01
    assert any("scores moved from version 1" in w for w in version.warnings)
    # Scoring a population unlike the training one warns too.
    run = model_score(model_id=scored["model"].pk, now=later)
    assert run.psi > 0.01 and any("drifted" in w for w in run.warnings)
