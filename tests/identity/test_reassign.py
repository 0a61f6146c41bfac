"""Moving records between profiles takes their events and consents along; retired ids
redirect; the consent ledger allows this re-pointing and nothing else."""

import datetime as dt
import uuid

import pytest
from django.db import DatabaseError, connection, transaction

from cdp.models import AuditEvent, ConsentEntry, Event, Profile, Source, SourceRecord
from cdp.services.record_parsing import ParsedRecord
from cdp.services.records import records_upsert
from identity.models import IdentityEvent, ProfileRedirect
from identity.reassign import records_reassign

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


@pytest.fixture
def two(db):
    """Anne known twice (crm c1, shop s1) as two profiles, each with an event and consent."""
    crm, shop = Source.objects.create(name="crm"), Source.objects.create(name="shop")
    records_upsert(source=crm, records=[ParsedRecord("c1", {"email": "anne@cdp.test"})])
    records_upsert(source=shop, records=[ParsedRecord("s1", {"email": "anne.m@cdp.test"})])
    recs = {r.external_id: r for r in SourceRecord.objects.all()}
    for name, rec in recs.items():
        Event.objects.create(source=rec.source, event_id=f"e-{name}", profile_id=rec.profile_id,
                             record=rec, type="purchase", occurred_at=NOW, received_at=NOW)
        ConsentEntry.objects.create(profile_id=rec.profile_id, record=rec, source=rec.source,
                                    purpose="email_marketing", status="granted",
                                    captured_at=NOW)
    return recs


def test_merge_moves_events_and_consents_and_redirects_the_old_id(two):
    keep, gone = two["c1"].profile_id, two["s1"].profile_id
    last = AuditEvent.objects.order_by("-id").first()
    start = last.id if last else 0
    result = records_reassign(moves={two["s1"].pk: keep}, rule="deterministic:email",
                              actor="t")
    assert result.retired == {gone: keep}
    assert not Profile.objects.filter(pk=gone).exists()
    assert set(Event.objects.values_list("profile_id", flat=True)) == {keep}
    assert set(ConsentEntry.objects.values_list("profile_id", flat=True)) == {keep}
    assert ProfileRedirect.objects.get(old_id=gone).new_id == keep
    event = IdentityEvent.objects.get()
    assert (event.kind, event.profile_id, event.other_profile_id) == ("merge", keep, gone)
    assert event.record_ids == [two["s1"].pk]
    assert AuditEvent.objects.filter(id__gt=start, action="identity.merge").count() == 1


def test_split_creates_a_new_profile_with_its_records_data(two):
    keep = two["c1"].profile_id
    records_reassign(moves={two["s1"].pk: keep}, rule="t", actor="t")
    new = uuid.uuid4()
    result = records_reassign(moves={two["s1"].pk: new}, rule="unmerge", actor="t")
    assert result.created == [new] and result.retired == {}
    assert Event.objects.get(record=two["s1"]).profile_id == new
    assert ConsentEntry.objects.get(record=two["s1"]).profile_id == new
    assert IdentityEvent.objects.order_by("-id").first().kind == "split"


def test_ledger_still_refuses_any_other_change_on_the_identity_path(two):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('cdp.identity', 'on', true)")
        with pytest.raises(DatabaseError), transaction.atomic():
            ConsentEntry.objects.update(status="withdrawn")
        with pytest.raises(DatabaseError), transaction.atomic():
            ConsentEntry.objects.all().delete()


def test_redirect_chains_follow_to_the_latest_profile(two):
    a, b = two["c1"].profile_id, two["s1"].profile_id
    records_reassign(moves={two["s1"].pk: a}, rule="t", actor="t")
    c = uuid.uuid4()
    records_reassign(moves={two["c1"].pk: c, two["s1"].pk: c}, rule="t", actor="t")
    assert ProfileRedirect.objects.get(old_id=b).new_id == c
    assert ProfileRedirect.objects.get(old_id=a).new_id == c


def test_a_large_merge_retires_profiles_with_what_hangs_on_them(db):
    """Past a thousand retired profiles the set-based delete runs: the retired ids keep a
    redirect and lose their golden record, traits and segment memberships; the kept
    profile keeps its own."""
    from identity.golden import golden_refresh
    from identity.models import GoldenRecord
    from segments.models import ProfileTraits, Segment, SegmentMembership

    shop = Source.objects.create(name="shop")
    records_upsert(source=shop, records=[ParsedRecord(f"s{n}", {"email": f"p{n}@cdp.test"})
                                         for n in range(1_100)])
    records = list(SourceRecord.objects.order_by("pk"))
    profiles = [r.profile_id for r in records]
    assert len(set(profiles)) == 1_100
    golden_refresh(profile_ids=set(profiles))
    ProfileTraits.objects.bulk_create([ProfileTraits(profile_id=p, computed_at=NOW)
                                       for p in profiles])
    segment = Segment.objects.create(name="all", slug="all", definition={"all": []})
    SegmentMembership.objects.bulk_create([
        SegmentMembership(segment=segment, profile_id=p, entered_at=NOW) for p in profiles])
    keep = profiles[0]
    result = records_reassign(moves={r.pk: keep for r in records[1:]}, rule="t", actor="t",
                              audit_each=False)
    assert len(result.retired) == 1_099
    assert list(Profile.objects.values_list("pk", flat=True)) == [keep]
    for model in (GoldenRecord, ProfileTraits, SegmentMembership):
        assert list(model.objects.values_list("profile_id", flat=True)) == [keep], model
    assert ProfileRedirect.objects.filter(new_id=keep).count() == 1_099
