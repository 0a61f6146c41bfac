"""Erasure (GDPR Art. 17): data deleted, copies crypto-shredded, identifiers suppressed."""

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from cdp.fields import ENCRYPTED_FIELDS
from cdp.models import (
    AuditEvent,
    ConsentEntry,
    DataKey,
    Event,
    Profile,
    Source,
    SourceRecord,
    SubjectRequest,
    SuppressedIdentity,
)
from cdp.privacy.crypto import DecryptionError, data_key_unwrap, decrypt
from cdp.privacy.datakeys import data_keys_load
from cdp.services.erasure import profiles_erase
from cdp.services.profiles import record_plain
from cdp.services.record_parsing import ParsedRecord
from cdp.services.records import records_upsert
from cdp.services.suppression import SUPPRESSED_REASON
from cdp.signals import profiles_erased
from segments.evaluation import segment_evaluate
from segments.models import SegmentMembership
from segments.services import segment_save

NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
EMAIL = "anne.morvan@example.org"
FIELDS = [*ENCRYPTED_FIELDS, "match"]


@pytest.fixture
def people(db):
    """Anne (two sources, events, consent, a segment) and Bob, who must not be touched."""
    crm = Source.objects.create(name="crm")
    shop = Source.objects.create(name="shop")
    records_upsert(source=crm, records=[
        ParsedRecord("c1", {"email": EMAIL, "last_name": "Morvan", "first_name": "Anne",
                            "phone": "+33612345678", "city": "Brest"}),
        ParsedRecord("c2", {"email": "bob.martin@example.org", "last_name": "Martin",
                            "city": "Brest"}),
    ])
    records_upsert(source=shop, records=[
        ParsedRecord("s1", {"email": EMAIL, "customer_id": "SHOP-1", "city": "Brest"},
                     {"note": "VIP"}),
    ])
    anne = SourceRecord.objects.get(external_id="c1").profile_id
    bob = SourceRecord.objects.get(external_id="c2").profile_id
    assert SourceRecord.objects.get(external_id="s1").profile_id == anne
    for number, pid in enumerate([anne, anne, bob]):
        Event.objects.create(source=shop, event_id=f"e{number}", profile_id=pid,
                             type="purchase", occurred_at=NOW, value=30, received_at=NOW,
                             properties={"email": EMAIL} if pid == anne else {})
    ConsentEntry.objects.create(profile_id=anne, purpose="email_marketing", status="granted",
                                captured_at=NOW, source=crm)
    segment = segment_save(actor="t", name="Brest", slug="brest",
                           definition={"attribute": "city", "op": "eq", "value": "Brest"})
    segment_evaluate(segment_id=segment.pk, now=NOW)
    return {"anne": anne, "bob": bob, "segment": segment, "crm": crm}


def _tables() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return [row[0] for row in cursor.fetchall()]


def _bytea_values() -> list[bytes]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT table_name, column_name FROM information_schema.columns "
                       "WHERE table_schema = 'public' AND data_type = 'bytea'")
        columns = cursor.fetchall()
        values = []
        for table, column in columns:
            cursor.execute(f'SELECT "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL')  # noqa: S608 - catalog names
            values += [bytes(row[0]) for row in cursor.fetchall()]
    return values


def _decryptable(token: bytes, keys: list) -> set[str]:
    """Everything this ciphertext opens to, under the master keys or any data key left."""
    found = set()
    for field in FIELDS:
        for key in [None, *keys]:
            try:
                found.add(decrypt(token, field=field, key=key))
            except DecryptionError:
                pass
    return found


def test_after_erasure_no_table_holds_the_email_in_clear_or_decryptable(people):
    """Raw SQL over every table: the email neither in clear (text, JSON or bytes) nor
    decryptable with any key left; a copy taken before (a backup) is unreadable too."""
    backup = [(r.data_key_id, r.email_enc) for r in SourceRecord.objects.filter(
        profile_id=people["anne"])]
    assert len(backup) == 2

    out = io.StringIO()
    call_command("erase_subject", "--email", "Anne.Morvan@example.org",
                 "--reason", "ticket 7", stdout=out)
    assert "erased 1 profile(s)" in out.getvalue()

    with connection.cursor() as cursor:
        for table in _tables():
            # Every column of every row, bytea as hex; table names come from the catalog.
            cursor.execute(f'SELECT t::text FROM "{table}" t')  # noqa: S608
            for (text,) in cursor.fetchall():
                assert EMAIL not in text and EMAIL.encode().hex() not in text, table
                assert "Morvan" not in text, table
    keys = list(data_keys_load(DataKey.objects.values_list("pk", flat=True)).values())
    assert len(keys) == 1  # Bob's
    for token in _bytea_values():
        assert EMAIL not in _decryptable(token, keys)
    for key_id, token in backup:
        assert data_keys_load([key_id]) == {}
        assert _decryptable(bytes(token), keys) == set()


def test_erasure_deletes_the_subject_and_spares_everyone_else(people):
    anne, bob = people["anne"], people["bob"]
    result = profiles_erase(profile_ids=[anne], actor="dpo", reason="request")
    expected = {
        "events": 2, "consent_entries": 1, "source_records": 2, "data_keys_destroyed": 2,
        "profiles": 1, "suppressed_identifiers": 3, "segment_memberships": 1,
        "computed_traits": 0, "destination_deletes_queued": 0,
    }
    # Other apps' erasers add their own counts; these must be exactly as said.
    assert {k: result.counts[k] for k in expected} == expected
    assert not Profile.objects.filter(pk=anne).exists()
    for model in (SourceRecord, Event, ConsentEntry, SegmentMembership):
        assert not model.objects.filter(profile_id=anne).exists(), model
    bob_record = SourceRecord.objects.get(profile_id=bob)
    assert record_plain(bob_record)["email"] == "bob.martin@example.org"
    assert Event.objects.filter(profile_id=bob).count() == 1
    assert SegmentMembership.objects.filter(profile_id=bob, exited_at__isnull=True).exists()
    audit = AuditEvent.objects.get(action="subject.erase")
    assert audit.profile_id == anne and audit.reason == "request"
    # Erasing again finds nothing and changes nothing.
    assert profiles_erase(profile_ids=[anne], actor="dpo", reason="again").profiles == []


def test_suppression_keeps_blind_indexes_only(people):
    profiles_erase(profile_ids=[people["anne"]], actor="dpo", reason="request")
    kinds = sorted(SuppressedIdentity.objects.values_list("kind", flat=True))
    assert kinds == ["customer_id", "email", "phone"]
    for bidx in SuppressedIdentity.objects.values_list("bidx", flat=True):
        assert len(bidx) == 64 and "@" not in bidx


def test_stale_reimport_is_flagged_not_resurrected(people):
    """The same person sent again by a stale source is stored, but restricted and audited,
    so no segment (or destination) uses them until the DPO decides."""
    profiles_erase(profile_ids=[people["anne"]], actor="dpo", reason="request")
    first = AuditEvent.objects.order_by("-id").first().id
    result = records_upsert(source=people["crm"], records=[
        ParsedRecord("c1", {"email": EMAIL, "city": "Brest"})])
    assert result.created == 1 and result.suppressed == 1
    profile = SourceRecord.objects.get(external_id="c1").profile
    assert profile.restricted_at is not None and profile.restriction_reason == SUPPRESSED_REASON
    flagged = AuditEvent.objects.filter(id__gt=first, action="erasure.match_flagged")
    assert [a.profile_id for a in flagged] == [profile.pk]
    segment_evaluate(segment_id=people["segment"].pk)
    assert not SegmentMembership.objects.filter(profile=profile, exited_at__isnull=True).exists()
    # Someone new is not flagged.
    other = records_upsert(source=people["crm"], records=[
        ParsedRecord("c9", {"email": "new.person@example.org"})])
    assert other.suppressed == 0


def test_destinations_are_told_after_commit(people, django_capture_on_commit_callbacks):
    received = []

    def receiver(sender, profile_ids, reason, request_id, **kwargs):
        received.append((list(profile_ids), reason, request_id))

    profiles_erased.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            call_command("erase_subject", "--profile", str(people["anne"]),
                         "--reason", "ticket 8", stdout=io.StringIO())
    finally:
        profiles_erased.disconnect(receiver)
    request = SubjectRequest.objects.get(kind="erasure")
    assert received == [([people["anne"]], "ticket 8", request.pk)]
    assert request.answered_at and request.identified_by == "profile"
    assert request.summary["source_records"] == 2


def test_command_refuses_unknown_subject_and_empty_reason(people):
    with pytest.raises(CommandError, match="no profile matches"):
        call_command("erase_subject", "--email", "nobody@example.org", "--reason", "x")
    with pytest.raises(CommandError, match="reason"):
        call_command("erase_subject", "--email", EMAIL, "--reason", "  ")
    assert Profile.objects.filter(pk=people["anne"]).exists()


def test_api_erasure_for_dpo_only(people, dpo_client, read_client):
    url = "/api/v1/subjects/erasure"
    assert read_client.post(url, {"email": EMAIL, "reason": "x"}, format="json").status_code == 403
    missing = dpo_client.post(url, {"email": EMAIL}, format="json")
    assert missing.status_code == 400 and "reason" in missing.json()
    unknown = dpo_client.post(url, {"email": "nobody@example.org", "reason": "x"}, format="json")
    assert unknown.status_code == 404
    assert Profile.objects.filter(pk=people["anne"]).exists()
    done = dpo_client.post(url, {"email": EMAIL, "reason": "ticket 9"}, format="json")
    assert done.status_code == 200, done.content
    body = done.json()
    assert body["profiles"] == [str(people["anne"])] and body["counts"]["profiles"] == 1
    assert SubjectRequest.objects.get(pk=body["request"]).kind == "erasure"
    assert EMAIL not in done.content.decode()


def test_ledger_still_refuses_deletes_outside_erasure(people):
    from django.db import DatabaseError, transaction

    with pytest.raises(DatabaseError), transaction.atomic():
        ConsentEntry.objects.filter(profile_id=people["anne"]).delete()


def test_wrapped_key_cannot_be_swapped_between_records(people):
    """A data key row copied onto another id does not open (bound to its id)."""
    rows = list(DataKey.objects.values_list("pk", "wrapped")[:2])
    with pytest.raises(DecryptionError):
        data_key_unwrap(rows[0][0], rows[1][1])


def test_admin_erasure_asks_for_a_reason_and_is_for_the_dpo(people, client):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    users = get_user_model()
    marketer = users.objects.create_user("mkt", "m@example.org", "pw-123456", is_staff=True)
    marketer.groups.add(Group.objects.get(name="marketer"))
    client.force_login(marketer)
    url, anne = "/admin/cdp/profile/", people["anne"]
    assert "erase_subjects" not in client.get(url).content.decode()
    refused = client.post(url, {"action": "erase_subjects", "_selected_action": [anne],
                                "apply": "yes", "reason": "x"})
    assert refused.status_code == 403 and Profile.objects.filter(pk=anne).exists()

    dpo = users.objects.create_user("dpo1", "d@example.org", "pw-123456", is_staff=True)
    dpo.groups.add(Group.objects.get(name="dpo"))
    client.force_login(dpo)
    page = client.post(url, {"action": "erase_subjects", "_selected_action": [anne]})
    assert page.status_code == 200 and b'name="reason"' in page.content
    assert Profile.objects.filter(pk=anne).exists()  # nothing before the confirmation
    client.post(url, {"action": "erase_subjects", "_selected_action": [anne], "apply": "yes",
                      "reason": "Art. 17 request #4"})
    assert not Profile.objects.filter(pk=anne).exists()
    request = SubjectRequest.objects.get(kind="erasure")
    assert request.handled_by == "user:dpo1" and request.reason == "Art. 17 request #4"
