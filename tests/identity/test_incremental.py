"""Incremental matching agrees with the batch run, and applies the same decisions."""

import io
import random
import uuid

import duckdb
import pytest
from django.core.management import call_command
from django.db import transaction

from cdp.models import SourceRecord
from identity.incremental import records_match
from identity.loading import records_arrow, records_table
from identity.matching import predict
from identity.models import BlockingKey, GoldenRecord, IdentityModel, TermFrequency
from identity.reassign import records_reassign
from identity.resolve import resolve_full
from identity.scoring import score
from identity.training import identity_model_train


@pytest.fixture
def resolved(db, tmp_path):
    call_command("generate_demo", "--customers", "300", "--no-progress", stdout=io.StringIO())
    identity_model_train(actor="t")
    resolve_full(actor="t")
    return IdentityModel.objects.get(active=True)


def test_incremental_scores_equal_splinks_batch_scores(resolved):
    """The same pairs get the same probability from Splink's predict and from the
    incremental scorer (same conditions, parameters and term frequencies)."""
    model = resolved.splink_model
    con = duckdb.connect()
    records_table(con, workers=1)
    pairs, _ = predict(con, model, threshold=0.01, explain_below=0.0)
    assert len(pairs) > 50
    sample = random.Random(3).sample(pairs, 40)
    frequencies = dict(TermFrequency.objects.values_list("key", "frequency"))
    for a, b, expected in sample:
        con.execute("CREATE OR REPLACE TABLE new_records AS SELECT * FROM records "
                    "WHERE unique_id = ?", [a])
        con.execute("CREATE OR REPLACE TABLE candidates AS SELECT * FROM records "
                    "WHERE unique_id = ?", [b])
        ((_, _, got),) = score(con, model, resolved.version, frequencies)
        assert got == pytest.approx(expected, rel=1e-6, abs=1e-9), (a, b)
    con.close()


def test_a_detached_record_finds_its_profile_again_as_the_batch_decided(resolved):
    """Records the batch put with others, moved to a profile of their own, rejoin the same
    profile on arrival (incremental and batch decisions agree)."""
    assert BlockingKey.objects.exists()
    groups = {}
    for pk, pid in SourceRecord.objects.order_by("pk").values_list("pk", "profile_id"):
        groups.setdefault(pid, []).append(pk)
    sample = [recs[-1] for recs in groups.values() if len(recs) >= 2][:25]
    expected = dict(SourceRecord.objects.filter(pk__in=sample).values_list("pk", "profile_id"))
    import uuid

    records_reassign(moves={pk: uuid.uuid4() for pk in sample}, rule="test", actor="t",
                     audit_each=False)
    outcome = records_match(record_ids=sample)
    now = dict(SourceRecord.objects.filter(pk__in=sample).values_list("pk", "profile_id"))
    agree = sum(now[pk] == expected[pk] for pk in sample)
    assert agree >= 0.9 * len(sample), (agree, len(sample), outcome)
    assert outcome.elapsed_ms > 0


def test_a_duplicate_arriving_through_the_api_joins_the_right_profile(
    resolved, ingest_client, celery_eager, django_capture_on_commit_callbacks
):
    """A record with a mistyped email domain (nothing exact to link on at ingestion)
    joins the existing person's profile on arrival."""
    from cdp.services.profiles import record_plain

    anchor = next(r for r in SourceRecord.objects.exclude(email_enc=None).order_by("pk")
                  if record_plain(r)["first_name"] and record_plain(r)["last_name"])
    plain = record_plain(anchor)
    local, domain = plain["email"].split("@")
    typo = domain.replace(".fr", ".fe") if domain.endswith(".fr") else domain + "x"
    with django_capture_on_commit_callbacks(execute=True):
        response = ingest_client.post("/api/v1/records/batch", {
            "source": anchor.source.name,
            "records": [{"external_id": "late-dup-1", "email": f"{local}@{typo}",
                         "first_name": plain["first_name"], "last_name": plain["last_name"]}],
        }, format="json")
    assert response.status_code == 200, response.content
    arrived = SourceRecord.objects.get(external_id="late-dup-1")
    assert arrived.profile_id == SourceRecord.objects.get(pk=anchor.pk).profile_id
    # The profile's golden record was chosen again with the new record among its own.
    golden = GoldenRecord.objects.get(profile_id=arrived.profile_id)
    assert golden.computed_at >= arrived.received_at


def test_a_shared_email_links_on_arrival_unless_it_is_a_blocked_value(resolved):
    """Two different people sharing only an email: the deterministic rule joins them on
    arrival (the model alone would not), except when the email is a blocked value."""
    import uuid

    from cdp.models import Source
    from cdp.services.record_parsing import ParsedRecord
    from cdp.services.records import records_upsert

    source = Source.objects.create(name="late")

    def arrive(email: str, tag: str) -> tuple[SourceRecord, SourceRecord]:
        records_upsert(source=source, records=[
            ParsedRecord(f"{tag}-1", {"email": email, "first_name": "Alice",
                                      "last_name": "Martin", "postcode": "29200"}),
            ParsedRecord(f"{tag}-2", {"email": email, "first_name": "Bruno",
                                      "last_name": "Durand", "postcode": "13001"})])
        first, second = (SourceRecord.objects.get(external_id=f"{tag}-{n}") for n in (1, 2))
        # Ingestion may have joined them already: start the second one on its own.
        records_reassign(moves={second.pk: uuid.uuid4()}, rule="test", actor="t",
                         audit_each=False)
        records_match(record_ids=[second.pk])
        first.refresh_from_db()
        second.refresh_from_db()
        return first, second

    first, second = arrive("shared.mailbox@cdp.test", "open")
    assert first.profile_id == second.profile_id
    first, second = arrive("test@cdp.test", "blocked")
    assert first.profile_id != second.profile_id


@pytest.mark.django_db(transaction=True)
def test_a_full_run_outside_a_transaction_loads_and_writes_the_index_in_parallel(tmp_path):
    """Committed runs (the nightly task, the command) read and decrypt records in worker
    processes, and write blocking keys and term frequencies on a second connection while
    they move records: the same records, the same index as in-line, and a detached
    record finds its profile through it."""
    from identity.incremental import incremental_index

    call_command("generate_demo", "--customers", "200", "--no-progress", stdout=io.StringIO())
    model = identity_model_train(actor="t")
    BlockingKey.objects.all().delete()
    result = resolve_full(actor="t")
    assert result.timings["index_write_s"] > 0
    stored_keys = set(BlockingKey.objects.values_list("record_id", "key"))
    stored_tf = set(TermFrequency.objects.values_list("column", "key", "frequency"))
    assert stored_keys
    # Outside a transaction worker processes read id ranges in one exported snapshot;
    # inside one this process reads: the same decrypted table either way.
    parallel = records_arrow(workers=2)
    with transaction.atomic():
        assert records_arrow(workers=2).equals(parallel)
    assert parallel.num_rows == SourceRecord.objects.count()
    assert parallel.column("last_name").null_count < parallel.num_rows
    con = duckdb.connect()
    records_table(con, workers=1)
    with transaction.atomic():  # in-line, in this transaction, then rolled back
        incremental_index(con, model.splink_model)()
        assert set(BlockingKey.objects.values_list("record_id", "key")) == stored_keys
        assert set(TermFrequency.objects.values_list("column", "key", "frequency")) == stored_tf
        transaction.set_rollback(True)
    con.close()
    groups = {}
    for pk, pid in SourceRecord.objects.order_by("pk").values_list("pk", "profile_id"):
        groups.setdefault(pid, []).append(pk)
    homes = {recs[-1]: pid for pid, recs in groups.items() if len(recs) >= 2}
    sample = sorted(homes)[:10]
    records_reassign(moves={pk: uuid.uuid4() for pk in sample}, rule="test", actor="t",
                     audit_each=False)
    records_match(record_ids=sample)
    now = dict(SourceRecord.objects.filter(pk__in=sample).values_list("pk", "profile_id"))
    assert sum(now[pk] == homes[pk] for pk in sample) >= 8
