"""Golden records: per field, the highest source priority, then the most recent record,
then the most frequent value; the set-based PostgreSQL path chooses exactly as the
row-by-row one (which the SQLite demo uses)."""

import datetime as dt
import random

from django.db.models import F

from cdp.models import Profile, Source, SourceRecord
from cdp.services.record_parsing import ParsedRecord
from cdp.services.records import records_upsert
from identity.golden import _refresh_python, golden_refresh
from identity.models import GoldenRecord
from identity.reassign import records_reassign

T0 = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)


def _one_profile(*records: tuple[Source, str, dict, int]) -> Profile:
    """Records (source, external id, fields, age in days) joined into the first one's
    profile."""
    for source, external_id, fields, _age in records:
        records_upsert(source=source, records=[ParsedRecord(external_id, fields)])
    rows = {r.external_id: r for r in SourceRecord.objects.all()}
    for _source, external_id, _fields, age in records:
        SourceRecord.objects.filter(pk=rows[external_id].pk).update(
            updated_at=T0 - dt.timedelta(days=age))
    keep = rows[records[0][1]].profile_id
    records_reassign(moves={rows[r[1]].pk: keep for r in records[1:]}, rule="t", actor="t")
    return Profile.objects.get(pk=keep)


def _winner(profile: Profile, field: str) -> str:
    golden = GoldenRecord.objects.get(profile=profile)
    return SourceRecord.objects.get(pk=golden.sources[field]).external_id


def test_priority_then_recency_then_frequency(db):
    crm = Source.objects.create(name="crm", priority=200)
    shop = Source.objects.create(name="shop", priority=100)
    profile = _one_profile(
        (shop, "s-new", {"email": "a@x.test", "city": "Brest", "company": "Acme"}, 1),
        (crm, "c-old", {"email": "b@x.test", "city": "Quimper"}, 30),
        (shop, "s-mid", {"email": "a@x.test", "company": "Acme"}, 5),
        (shop, "s-old", {"email": "a@x.test", "company": "Other"}, 9),
    )
    golden_refresh(profile_ids=[profile.pk])
    assert _winner(profile, "email") == "c-old"  # the CRM outranks the fresher shop
    assert _winner(profile, "city") == "c-old"
    assert _winner(profile, "company") == "s-new"  # no CRM value: the most recent
    assert "phone" not in GoldenRecord.objects.get(profile=profile).sources


def test_the_most_frequent_value_breaks_a_tie(db):
    shop = Source.objects.create(name="shop")
    profile = _one_profile(
        (shop, "s1", {"email": "one@x.test", "city": "Brest"}, 3),
        (shop, "s2", {"email": "two@x.test", "city": "Rennes"}, 3),
        (shop, "s3", {"email": "two@x.test", "city": "Rennes"}, 3),
    )
    golden_refresh(profile_ids=[profile.pk])
    assert _winner(profile, "email") in {"s2", "s3"}
    assert _winner(profile, "city") in {"s2", "s3"}


def test_set_based_and_row_by_row_choose_the_same(db):
    rng = random.Random(7)
    sources = [Source.objects.create(name=f"s{n}", priority=rng.choice([50, 100, 100]))
               for n in range(3)]
    for n in range(120):
        fields = {k: v for k, v in {
            "email": rng.choice(["a@x.test", "b@x.test", None]),
            "phone": rng.choice(["+33612345678", None]),
            "first_name": rng.choice(["Anne", "Annie", None]),
            "city": rng.choice(["Brest", "Rennes", "", None]),
            "postcode": rng.choice(["29200", "35000", None]),
        }.items() if v is not None}
        records_upsert(source=rng.choice(sources), records=[ParsedRecord(f"r{n}", fields)])
    rows = list(SourceRecord.objects.order_by("pk"))
    SourceRecord.objects.update(updated_at=T0)
    for row in rows[::4]:
        SourceRecord.objects.filter(pk=row.pk).update(updated_at=F("updated_at")
                                                      - dt.timedelta(days=rng.randint(0, 2)))
    keeps = [rows[i].profile_id for i in range(0, len(rows), 6)]
    records_reassign(moves={row.pk: keeps[i % len(keeps)] for i, row in enumerate(rows)
                            if row.profile_id not in keeps}, rule="t", actor="t")
    ids = set(SourceRecord.objects.values_list("profile_id", flat=True))
    assert golden_refresh(profile_ids=ids) == len(ids)
    set_based = dict(GoldenRecord.objects.values_list("profile_id", "sources"))
    GoldenRecord.objects.all().delete()
    _refresh_python(ids)
    assert dict(GoldenRecord.objects.values_list("profile_id", "sources")) == set_based


def test_a_few_profiles_are_refreshed_alone(db):
    """Asked for a few of many profiles, only those are written (the staged path)."""
    shop = Source.objects.create(name="shop")
    records_upsert(source=shop, records=[
        ParsedRecord(f"r{n}", {"email": f"p{n}@x.test", "city": "Brest"}) for n in range(6)])
    few = list(SourceRecord.objects.order_by("pk").values_list("profile_id", flat=True)[:2])
    GoldenRecord.objects.all().delete()
    assert golden_refresh(profile_ids=few) == 2
    assert set(GoldenRecord.objects.values_list("profile_id", flat=True)) == set(few)
    staged = dict(GoldenRecord.objects.values_list("profile_id", "sources"))
    GoldenRecord.objects.all().delete()
    _refresh_python(few)
    assert dict(GoldenRecord.objects.values_list("profile_id", "sources")) == staged


def test_golden_records_follow_records_as_they_arrive(
        ingest_client, celery_eager, django_capture_on_commit_callbacks):
    """Through the API, with no model trained: a new person gets a golden record, a record
    from a more trusted source joining the profile wins its fields, and a fresher update
    of a same-priority record wins over an older one, without waiting for a full run."""
    Source.objects.create(name="shop", priority=100)
    Source.objects.create(name="crm", priority=200)

    def send(source: str, **fields: str) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            response = ingest_client.post("/api/v1/records/batch", {
                "source": source, "records": [fields]}, format="json")
        assert response.status_code == 200, response.content

    send("shop", external_id="s1", email="anne@example.com", city="Brest")
    profile = SourceRecord.objects.get(external_id="s1").profile
    assert _winner(profile, "city") == "s1"
    # Same email: ingestion joins it to the profile; the CRM outranks the shop.
    send("crm", external_id="c1", email="anne@example.com", city="Quimper")
    assert SourceRecord.objects.get(external_id="c1").profile_id == profile.pk
    assert _winner(profile, "city") == "c1"
    assert _winner(profile, "email") == "c1"
    # A shop record changed later: fresher, same priority as the other shop record.
    send("shop", external_id="s2", email="anne@example.com", company="Acme")
    assert _winner(profile, "company") == "s2"
    SourceRecord.objects.filter(external_id="s2").update(updated_at=T0)
    send("shop", external_id="s1", email="anne@example.com", city="Brest", company="Initech")
    assert _winner(profile, "company") == "s1"


def test_refresh_golden_fills_the_missing_ones_or_recomputes_all(db):
    """The command computes golden records of profiles without one; --all also
    recomputes the others (after source priorities change)."""
    import io

    from django.core.management import call_command

    shop = Source.objects.create(name="shop", priority=100)
    crm = Source.objects.create(name="crm", priority=50)
    profile = _one_profile((shop, "s1", {"email": "a@x.test", "city": "Brest"}, 1),
                           (crm, "c1", {"email": "a@x.test", "city": "Quimper"}, 1))
    other = _one_profile((shop, "s2", {"email": "b@x.test", "city": "Rennes"}, 1))
    golden_refresh(profile_ids=[profile.pk])
    assert _winner(profile, "city") == "s1"
    out = io.StringIO()
    call_command("refresh_golden", stdout=out)
    assert out.getvalue().startswith("1 ") and _winner(other, "city") == "s2"
    crm.priority = 200
    crm.save()
    call_command("refresh_golden", stdout=io.StringIO())
    assert _winner(profile, "city") == "s1"  # it had one: left alone
    call_command("refresh_golden", "--all", stdout=io.StringIO())
    assert _winner(profile, "city") == "c1"
