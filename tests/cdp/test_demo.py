"""generate_demo: deterministic, noisy but importable French demo data, safe to run twice."""

import csv
import datetime as dt
import io
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db.models import F

from cdp.demo.consents import PURPOSES
from cdp.demo.generator import DemoCustomer, generate
from cdp.models import ConsentEntry, Event, Source, SourceRecord
from cdp.services.events import event_parse
from cdp.services.record_parsing import record_parse

AS_OF = dt.datetime(2025, 6, 30, tzinfo=dt.UTC)


def _run(customers: int, seed: int = 7) -> list[DemoCustomer]:
    return list(generate(customers=customers, seed=seed, as_of=AS_OF))


def _snapshot(customers: list[DemoCustomer]) -> list:
    return [
        ([r.row() for r in c.records], [e.row() for e in c.events],
         [x.row() for x in c.consents])
        for c in customers
    ]


@pytest.fixture(scope="module")
def sample() -> list[DemoCustomer]:
    return _run(1500)


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_same_seed_gives_the_same_data_and_a_prefix_of_a_larger_run():
    first, again = _snapshot(_run(120)), _snapshot(_run(120))
    assert first == again
    assert _snapshot(_run(40)) == first[:40]
    assert _snapshot(_run(120, seed=8)) != first


def test_every_person_has_one_to_three_records_with_unique_ids(sample):
    counts = Counter(len(c.records) for c in sample)
    assert set(counts) <= {1, 2, 3} and counts[2] and counts[3]
    per_source = Counter(r.source for c in sample for r in c.records)
    # crm ~70%, shop ~60%, newsletter ~40% of people.
    assert 0.6 < per_source["crm"] / len(sample) < 0.8
    assert 0.5 < per_source["shop"] / len(sample) < 0.7
    assert 0.3 < per_source["newsletter"] / len(sample) < 0.5
    keys = [(r.source, r.external_id) for c in sample for r in c.records]
    assert len(keys) == len(set(keys))
    assert all(re.fullmatch(r"E\d{6}", c.entity_id) for c in sample)


def test_duplicates_carry_the_noise_of_real_data(sample):
    pairs = [(c.person, r) for c in sample for r in c.records]
    values = [r.values for _, r in pairs]
    phones = {v["phone"] for v in values if "phone" in v}
    assert any(re.fullmatch(r"0\d( \d\d){4}", p) for p in phones)
    assert any(re.fullmatch(r"\+33\d{9}", p) for p in phones)
    assert any(p.startswith("0033 ") for p in phones)
    assert any(re.fullmatch(r"0\d(\.\d\d){4}", p) for p in phones)
    dates = {v["birth_date"] for v in values if "birth_date" in v}
    for shape in (r"\d{4}-\d\d-\d\d", r"\d\d/\d\d/\d{4}", r"\d{8}"):
        assert any(re.fullmatch(shape, d) for d in dates), shape
    # Swapped names, typos or case changes, emails in other forms, stale addresses.
    assert any(r.values.get("first_name") == p.last_name != p.first_name for p, r in pairs)
    assert sum(r.values.get("last_name") not in (None, p.last_name) for p, r in pairs) > 50
    assert any(r.values.get("email", "").strip() not in ("", p.email) for p, r in pairs)
    assert any(r.values.get("email", "") == p.email.upper() for p, r in pairs)
    assert any(p.old_address and r.values.get("address_line1") == p.old_address.line1
               for p, r in pairs)
    newsletter = [r for _, r in pairs if r.source == "newsletter"]
    assert all(set(r.values) <= {"email", "first_name", "postcode"} for r in newsletter)


def test_only_planted_garbage_fails_normalization(sample):
    records = [r for c in sample for r in c.records]
    planted = Counter(f for r in records for f in r.garbage)
    assert planted["phone"] and planted["birth_date"] and planted["email"]
    for rec in records:
        outcome = record_parse(rec.raw(), strict=False, region="FR")
        assert outcome.record is not None
        assert {f for f, _ in outcome.issues} == set(rec.garbage), rec.raw()


def test_events_are_valid_recent_and_named_by_what_the_source_knows(sample):
    events = [e for c in sample for e in c.events]
    # email_click: the planted purchase-intent signal (cdp/demo/planted.py).
    assert {e.type for e in events} == {"purchase", "email_open", "page_view", "email_click"}
    assert len({(e.source, e.id) for e in events}) == len(events)
    for event in events:
        assert event_parse(event.raw(), strict=True, now=AS_OF).event is not None
        assert AS_OF - dt.timedelta(days=731) <= event.occurred_at <= AS_OF
    kinds = {(e.source, e.type, e.identifier[0]) for e in events}
    assert ("shop", "purchase", "external_id") in kinds
    assert ("newsletter", "email_open", "email") in kinds
    assert {("shop", "page_view", "customer_id"), ("shop", "page_view", "email")} <= kinds
    purchases = [e for e in events if e.type == "purchase"]
    assert all(float(e.value) > 0 and e.properties["order_id"] for e in purchases)


def test_consents_mix_grants_denials_and_withdrawals(sample):
    consents = [x for c in sample for x in c.consents]
    assert {x.purpose for x in consents} == set(PURPOSES)
    assert {x.status for x in consents} == {"granted", "denied", "withdrawn"}
    by_record = defaultdict(list)
    for x in consents:
        by_record[(x.source, x.external_id, x.purpose)].append(x)
    withdrawn = [h for h in by_record.values() if h[-1].status == "withdrawn"]
    assert withdrawn and all(h[0].status == "granted" for h in withdrawn)
    signups = [h for k, h in by_record.items()
               if k[0] == "newsletter" and k[2] == "email_marketing"]
    assert sum(h[0].status == "granted" for h in signups) > 0.9 * len(signups)
    assert not any("ip" in x.evidence for x in consents)


def _counts() -> tuple[int, ...]:
    return (SourceRecord.objects.count(), Event.objects.count(),
            ConsentEntry.objects.count())


@pytest.mark.django_db
def test_generate_demo_into_the_database_is_idempotent(tmp_path):
    truth = tmp_path / "truth.csv"
    args = ["generate_demo", "--customers", "30", "--seed", "5", "--as-of", "2025-06-30",
            "--truth", str(truth), "--no-progress"]
    out = io.StringIO()
    call_command(*args, stdout=out)
    expected = _run_counts(seed=5, customers=30)
    assert dict(Source.objects.values_list("name", "priority")) == {
        "crm": 300, "shop": 200, "newsletter": 100}
    assert Source.objects.get(name="shop").kind == Source.Kind.SHOP
    rows = _read(truth)
    assert len(rows) == SourceRecord.objects.filter(implicit=False).count() == expected[0]
    assert Event.objects.count() == expected[1]
    assert ConsentEntry.objects.count() == expected[2]
    assert not ConsentEntry.objects.exclude(profile_id=F("record__profile_id")).exists()
    # Proof fields filled as a source would send them; IP and user agent only hashed.
    assert not ConsentEntry.objects.filter(recorded_by="").exists()
    assert not ConsentEntry.objects.filter(status="granted", notice_hash="").exists()
    web = ConsentEntry.objects.filter(channel="web")
    assert web.exists() and all({"ip_hash", "user_agent_hash"} <= set(e.evidence) for e in web)
    before = _counts()

    again = io.StringIO()
    call_command(*args, stdout=again)
    assert _counts() == before
    assert "records created 0" in again.getvalue()
    assert "events created 0" in again.getvalue()
    assert "consents created 0" in again.getvalue()


def _run_counts(*, seed: int, customers: int) -> tuple[int, int, int]:
    run = _run(customers, seed=seed)
    return (sum(len(c.records) for c in run), sum(len(c.events) for c in run),
            sum(len(c.consents) for c in run))


@pytest.mark.django_db
def test_out_files_import_with_the_import_commands(tmp_path):
    out = tmp_path / "demo"
    call_command("generate_demo", "--customers", "40", "--seed", "3", "--as-of", "2025-06-30",
                 "--out", str(out), "--truth", str(out / "truth.csv"), "--no-progress",
                 stdout=io.StringIO())
    truth = _read(out / "truth.csv")
    events = {s: _read(out / f"events_{s}.csv") for s in ("crm", "shop", "newsletter")}
    for source in ("crm", "shop", "newsletter"):
        call_command("import_records", str(out / f"records_{source}.csv"), "--source", source,
                     "--workers", "1", "--no-progress", stdout=io.StringIO(),
                     stderr=io.StringIO())
    for source in ("crm", "shop", "newsletter"):
        call_command("import_events", str(out / f"events_{source}.csv"), "--source", source,
                     "--workers", "1", "--no-progress", stdout=io.StringIO(),
                     stderr=io.StringIO())
    assert SourceRecord.objects.filter(implicit=False).count() == len(truth)
    assert Event.objects.count() == sum(len(rows) for rows in events.values())
    crm = SourceRecord.objects.filter(source__name="crm", implicit=False)
    assert all("store" in r.attributes and "client_since" in r.attributes for r in crm)
    shop_purchases = Event.objects.filter(source__name="shop", type="purchase")
    assert shop_purchases.exists()
    assert not shop_purchases.filter(record__implicit=True).exists()
    assert set(events["newsletter"][0]) == {"id", "type", "occurred_at", "value", "email",
                                            "campaign"}
    consents = {s: _read(out / f"consents_{s}.csv") for s in ("crm", "shop", "newsletter")}
    for source in ("crm", "shop", "newsletter"):
        call_command("import_consents", str(out / f"consents_{source}.csv"), "--source",
                     source, "--workers", "1", "--no-progress", stdout=io.StringIO(),
                     stderr=io.StringIO())
    assert ConsentEntry.objects.count() == sum(len(rows) for rows in consents.values())
    assert not ConsentEntry.objects.filter(record__implicit=True).exists()
    web = ConsentEntry.objects.filter(channel="web").first()
    assert len(web.evidence["ip_hash"]) == 64 and len(web.notice_hash) == 64


def test_demo_database_passes_the_audit_chain_check(db):
    """Every audit row the demo writes goes through the chain (verify stays intact)."""
    import io

    from django.core.management import call_command

    call_command("generate_demo", "--customers", "5", "--seed", "3", "--no-progress",
                 stdout=io.StringIO(), stderr=io.StringIO())
    out = io.StringIO()
    call_command("verify_audit_chain", stdout=out)
    assert "intact" in out.getvalue()
