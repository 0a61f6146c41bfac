"""The consent ledger: what an entry proves, what is never kept in clear, what the current
state is (ties, expiry, restriction) and who may be used for a purpose."""

import datetime as dt
import hashlib

import pytest
from django.db import connection

from cdp.models import AuditEvent, ConsentEntry, Profile, Source, SourceRecord
from cdp.privacy.consent import (
    allowed_for_q,
    consent_current,
    consent_history,
    profiles_allowed_for,
)
from cdp.services.consents import consents_record
from cdp.services.record_parsing import ParsedRecord
from cdp.services.records import records_upsert

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
NOTICE = "Politique de confidentialité v3: nous utilisons votre email pour la newsletter."
IP, UA = "203.0.113.77", "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"


def _item(**fields) -> dict:
    item = {"email": "anne.quemener@example.org", "purpose": "email_marketing",
            "status": "granted", "captured_at": "2026-02-10T09:30:00+01:00",
            "notice_version": "v3", "channel": "web"}
    item.update(fields)
    return {k: v for k, v in item.items() if v is not None}


def _record(source: Source, *items: dict, strict: bool = True, now=NOW):
    return consents_record(source=source, items=list(items), strict=strict,
                           recorded_by="api-key:shop-sync", now=now)


def _at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def test_entry_holds_the_proof_of_consent(source):
    """Art. 7(1): subject (profile and record), purpose, status, basis, channel, source,
    notice version and hash, evidence, captured/recorded times, expiry, who recorded it."""
    report = _record(source, _item(
        notice_text=NOTICE, ip=IP, user_agent=UA, form="newsletter-footer",
        evidence={"campaign": "printemps-2026"}, expires_at="2027-02-10T09:30:00+01:00"))
    assert (report.accepted, report.created, report.errors) == (1, 1, [])
    entry = ConsentEntry.objects.get()
    record = SourceRecord.objects.get()
    assert record.implicit and (entry.record_id, entry.profile_id) == (record.pk,
                                                                       record.profile_id)
    assert (entry.source, entry.purpose, entry.status) == (source, "email_marketing", "granted")
    assert (entry.lawful_basis, entry.channel, entry.notice_version) == ("consent", "web", "v3")
    assert entry.notice_hash == hashlib.sha256(NOTICE.encode()).hexdigest()
    assert entry.captured_at == _at("2026-02-10T08:30:00+00:00")
    assert entry.expires_at == _at("2027-02-10T08:30:00+00:00")
    assert entry.recorded_by == "api-key:shop-sync" and entry.recorded_at is not None
    assert entry.evidence["form"] == "newsletter-footer"
    assert entry.evidence["campaign"] == "printemps-2026"
    assert len(entry.evidence["ip_hash"]) == 64 and len(entry.evidence["user_agent_hash"]) == 64
    assert set(entry.evidence) == {"form", "campaign", "ip_hash", "user_agent_hash"}


def test_ip_user_agent_and_identifiers_are_never_stored_in_clear(source):
    """The whole row (and the audit rows) hold no clear IP, user agent, email or notice."""
    _record(source, _item(notice_text=NOTICE, ip=IP, user_agent=UA))
    with connection.cursor() as cursor:
        cursor.execute("SELECT t::text FROM cdp_consententry t")
        dump = " ".join(row[0] for row in cursor.fetchall())
        cursor.execute("SELECT t::text FROM cdp_auditevent t")
        dump += " ".join(row[0] for row in cursor.fetchall())
    for secret in (IP, UA, "Mozilla", "anne.quemener", NOTICE[:20]):
        assert secret not in dump


def test_one_address_written_two_ways_has_one_keyed_hash(source):
    """IP addresses are normalized before hashing, so evidence stays comparable."""
    _record(source, _item(ip="2001:db8::7"),
            _item(ip="2001:0DB8:0:0::7", status="withdrawn",
                  captured_at="2026-02-11T10:00:00+01:00"))
    hashes = {e.evidence["ip_hash"] for e in ConsentEntry.objects.all()}
    assert len(hashes) == 1


def test_personal_data_is_refused_as_evidence(source):
    """Strict (API): the item is refused; lenient (import): the field is dropped."""
    strict = _record(source, _item(first_name="Anne", evidence={"phone": "0612345678"}))
    assert strict.accepted == 0
    assert {(e.field, e.message) for e in strict.errors} == {
        ("first_name", "personal data is never kept as evidence"),
        ("evidence.phone", "personal data is never kept as evidence")}
    lenient = _record(source, _item(first_name="Anne"), strict=False)
    assert lenient.created == 1
    assert "first_name" not in ConsentEntry.objects.get().evidence


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"purpose": "telepathy"}, "purpose", "unknown purpose"),
    ({"status": "maybe"}, "status", "unknown status"),
    ({"lawful_basis": "because"}, "lawful_basis", "unknown lawful basis (GDPR Art. 6(1))"),
    ({"captured_at": "2026-03-03T12:00:01+00:00"}, "captured_at", "in the future"),
    ({"captured_at": "yesterday"}, "captured_at", "not an ISO 8601 date-time"),
    ({"captured_at": None}, "captured_at", "required, as an ISO 8601 date-time"),
    ({"notice_version": None}, "notice_version", "required to prove a consent"),
    ({"expires_at": "2026-01-01T00:00:00+00:00"}, "expires_at", "must be after captured_at"),
    ({"email": None}, "identifier",
     "one of email, phone, customer_id or external_id is required"),
    ({"notice_text": "v3 text", "notice_hash": "0" * 64}, "notice_hash",
     "notice_hash does not match notice_text"),
    ({"ip": "not-an-ip"}, "ip", "not an IP address"),
])
def test_invalid_items_are_reported_by_field(source, fields, field, message):
    report = _record(source, _item(**fields))
    assert report.accepted == 0
    assert [(e.index, e.field, e.message) for e in report.errors] == [(0, field, message)]
    assert not ConsentEntry.objects.exists()


def test_captured_at_may_be_a_day_ahead_and_a_withdrawal_needs_no_notice(source):
    """Clock skew of up to a day is accepted; a withdrawal proves itself without a notice."""
    report = _record(source, _item(captured_at="2026-03-02T11:59:00+00:00"),
                     _item(status="withdrawn", notice_version=None,
                           captured_at="2026-02-20T10:00:00+00:00"),
                     _item(status="granted", lawful_basis="legitimate_interests",
                           purpose="profiling", notice_version=None))
    assert (report.accepted, report.created, report.errors) == (3, 3, [])


def test_resent_entries_are_not_duplicated(source):
    """Same profile, purpose, status, captured_at and source: counted, not stored again."""
    first = _record(source, _item(), _item(status="withdrawn",
                                           captured_at="2026-02-12T10:00:00+01:00"))
    assert (first.created, first.duplicates) == (2, 0)
    again = _record(source, _item(), _item(), _item(captured_at="2026-02-10T08:30:00Z"))
    assert (again.accepted, again.created, again.duplicates) == (3, 0, 3)
    other = Source.objects.create(name="shop")
    assert _record(other, _item()).created == 1  # another source's proof is its own
    assert ConsentEntry.objects.count() == 3


def test_one_audit_row_per_batch_with_counts_per_status(source):
    start = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    _record(source, _item(), _item(purpose="sms_marketing"),
            _item(status="withdrawn", captured_at="2026-02-12T10:00:00+01:00"),
            _item(status="bogus"))
    rows = list(AuditEvent.objects.filter(id__gt=start, action="consent.record"))
    assert len(rows) == 1
    assert rows[0].actor == "api-key:shop-sync" and rows[0].object_id == str(source.pk)
    assert rows[0].details["statuses"] == {"granted": 2, "withdrawn": 1}
    assert rows[0].details["created"] == 3


def test_changes_are_announced_after_commit(source, django_capture_on_commit_callbacks):
    from cdp.signals import consent_changed

    seen = []
    consent_changed.connect(lambda **kw: seen.append(kw), weak=False, dispatch_uid="t")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            _record(source, _item(status="withdrawn"))
            assert not seen
    finally:
        consent_changed.disconnect(dispatch_uid="t")
    assert len(seen) == 1 and seen[0]["statuses"] == {"withdrawn"}
    assert seen[0]["purposes"] == {"email_marketing"}
    assert seen[0]["profile_ids"] == {ConsentEntry.objects.get().profile_id}


@pytest.fixture
def two_records(source) -> Profile:
    """One person known to the CRM and the shop by the same email: one profile."""
    shop = Source.objects.create(name="shop")
    records_upsert(source=source, records=[ParsedRecord("C-1", {"email": "tie@example.org"})])
    records_upsert(source=shop, records=[ParsedRecord("S-1", {"email": "tie@example.org"})])
    profiles = set(SourceRecord.objects.values_list("profile_id", flat=True))
    assert len(profiles) == 1
    return Profile.objects.get(pk=profiles.pop())


def test_withdrawal_wins_a_tie_across_two_records_of_one_profile(source, two_records):
    """The shop's withdrawal and the CRM's grant share an instant: withdrawn, whatever the
    order in which they were recorded; a later grant brings consent back."""
    shop = Source.objects.get(name="shop")
    at = "2026-02-01T10:00:00+00:00"
    _record(shop, _item(email=None, external_id="S-1", status="withdrawn", captured_at=at))
    _record(source, _item(email=None, external_id="C-1", captured_at=at))
    entries = ConsentEntry.objects.order_by("id")
    assert [e.status for e in entries] == ["withdrawn", "granted"]
    assert {e.record.external_id for e in entries} == {"C-1", "S-1"}

    assert consent_current(two_records.pk, now=NOW)["email_marketing"].status == "withdrawn"
    assert not profiles_allowed_for("email_marketing", now=NOW).exists()
    _record(source, _item(email=None, external_id="C-1", captured_at="2026-02-02T10:00:00Z"))
    assert consent_current(two_records.pk, now=NOW)["email_marketing"].status == "granted"
    assert list(profiles_allowed_for("email_marketing", now=NOW)) == [two_records]
    history = list(consent_history(two_records.pk))
    assert [e.status for e in history] == ["granted", "withdrawn", "granted"]


def _entry(profile: Profile, status: str, at: dt.datetime, purpose: str = "email_marketing",
           expires: dt.datetime | None = None) -> ConsentEntry:
    return ConsentEntry.objects.create(profile=profile, purpose=purpose, status=status,
                                       captured_at=at, expires_at=expires)


def test_selector_returns_only_granted_unexpired_unrestricted_profiles(db):
    """Never the withdrawn, denied, expired (at now exactly too), restricted, the ones
    with no entry, or whose grant is only known after now."""
    day = dt.timedelta(days=1)
    people = {name: Profile.objects.create() for name in (
        "granted", "withdrawn", "denied", "expired", "expires_now", "expires_later",
        "restricted", "silent", "future", "other_purpose", "denied_tie")}
    _entry(people["granted"], "granted", NOW - 3 * day)
    _entry(people["withdrawn"], "granted", NOW - 3 * day)
    _entry(people["withdrawn"], "withdrawn", NOW - day)
    _entry(people["denied"], "denied", NOW - day)
    _entry(people["expired"], "granted", NOW - 3 * day, expires=NOW - day)
    _entry(people["expires_now"], "granted", NOW - 3 * day, expires=NOW)
    _entry(people["expires_later"], "granted", NOW - 3 * day, expires=NOW + day)
    _entry(people["restricted"], "granted", NOW - 3 * day)
    Profile.objects.filter(pk=people["restricted"].pk).update(restricted_at=NOW - day)
    _entry(people["future"], "granted", NOW + day)
    _entry(people["other_purpose"], "granted", NOW - day, purpose="sms_marketing")
    _entry(people["denied_tie"], "denied", NOW - day)
    _entry(people["denied_tie"], "granted", NOW - day)

    allowed = set(profiles_allowed_for("email_marketing", now=NOW))
    assert allowed == {people["granted"], people["expires_later"]}
    # Two-valued: NOT over the Q is exactly everyone else.
    others = set(Profile.objects.exclude(allowed_for_q("email_marketing", now=NOW)))
    assert others == set(people.values()) - allowed
    # An expired grant stays the current entry: an older grant does not come back.
    _entry(people["expired"], "granted", NOW - 5 * day)
    assert people["expired"] not in profiles_allowed_for("email_marketing", now=NOW)


def test_selector_is_one_anti_join(db, django_assert_num_queries):
    """One query, the ledger scanned once (no per-profile lookups)."""
    with django_assert_num_queries(1) as queries:
        list(profiles_allowed_for("email_marketing", now=NOW))
    sql = queries.captured_queries[0]["sql"]
    assert sql.count("NOT (EXISTS") == 1 or sql.count("NOT EXISTS") == 1


def test_a_merge_keeps_the_entries_of_two_records_from_one_import(source):
    """A shop exported one person twice (two accounts) with the same consent line each;
    when identity resolution merges them, both entries stay, each proving its record."""
    from identity.reassign import records_reassign

    at = "2026-02-01T10:00:00+00:00"
    _record(source, _item(email="anne@example.org", captured_at=at),
            _item(email="anne.q@example.org", captured_at=at))
    first, second = SourceRecord.objects.order_by("id")
    assert first.profile_id != second.profile_id
    records_reassign(moves={second.pk: first.profile_id}, rule="test", actor="t")
    entries = ConsentEntry.objects.filter(profile_id=first.profile_id)
    assert sorted(e.record_id for e in entries) == [first.pk, second.pk]
    assert consent_current(first.profile_id, now=NOW)["email_marketing"].status == "granted"
