"""The database itself keeps the consent ledger and the audit log append-only."""

import datetime as dt

import pytest
from django.db import connection, transaction
from django.db.utils import ProgrammingError

from cdp.models import AuditEvent, ConsentEntry, Profile, Purpose


def test_purposes_are_seeded(db):
    """The five purposes exist as data."""
    assert set(Purpose.objects.values_list("slug", flat=True)) >= {
        "email_marketing", "sms_marketing", "ads_targeting", "profiling", "partner_sharing"}


@pytest.mark.parametrize("sql", [
    "UPDATE cdp_consententry SET status = 'granted'",
    "DELETE FROM cdp_consententry",
])
def test_consent_ledger_refuses_update_and_delete(db, sql):
    """Even raw SQL cannot rewrite or remove a consent entry outside the erasure path."""
    entry = ConsentEntry.objects.create(
        profile=Profile.objects.create(), purpose="email_marketing", status="withdrawn",
        captured_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    with pytest.raises(ProgrammingError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql)
    entry.refresh_from_db()
    assert entry.status == "withdrawn"


def test_erasure_flag_opens_the_ledger_for_that_transaction_only(db):
    """The erasure path (cdp.erasure = on, transaction-local) may delete entries."""
    ConsentEntry.objects.create(
        profile=Profile.objects.create(), purpose="profiling", status="granted",
        captured_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('cdp.erasure', 'on', true)")
        cursor.execute("DELETE FROM cdp_consententry")
    assert not ConsentEntry.objects.exists()


def test_audit_log_refuses_update_and_delete(db):
    """Audit rows cannot be edited or removed through the application's connection."""
    AuditEvent.objects.create(actor="t", action="x")
    for sql in ("UPDATE cdp_auditevent SET actor = 'mallory'", "DELETE FROM cdp_auditevent"):
        with pytest.raises(ProgrammingError, match="append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(sql)
    assert AuditEvent.objects.get().actor == "t"
