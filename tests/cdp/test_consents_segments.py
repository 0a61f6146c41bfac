"""Enforcement: a withdrawal takes the person out of every segment that reads the purpose
(and the segments built on those), through consent_changed and the segments receiver."""

import datetime as dt

import pytest
from django.utils import timezone

from cdp.models import ConsentEntry, Source
from cdp.services.consents import consents_record
from segments import receivers
from segments.evaluation import segment_evaluate
from segments.models import Segment
from segments.services import segment_save
from segments.signals import membership_changed

PEOPLE = ("lea@example.org", "marc@example.org")


def _consent(source: Source, email: str, status: str, at: dt.datetime,
             purpose: str = "email_marketing") -> None:
    report = consents_record(source=source, recorded_by="test", items=[{
        "email": email, "purpose": purpose, "status": status,
        "captured_at": at.isoformat(), "notice_version": "v1"}])
    assert report.created == 1, report.errors


def _members(segment: Segment) -> set:
    return set(segment.memberships.filter(exited_at__isnull=True)
               .values_list("profile_id", flat=True))


@pytest.fixture
def newsletter(source) -> dict:
    """Two people granted email marketing; a consent segment and one built on it."""
    start = timezone.now() - dt.timedelta(days=30)
    for email in PEOPLE:
        _consent(source, email, "granted", start)
    segments = {
        "optin": segment_save(actor="t", name="optin", slug="optin",
                              definition={"consent": "email_marketing"}),
        "vip": segment_save(actor="t", name="vip", slug="vip",
                            definition={"segment": "optin"}),
        "sms": segment_save(actor="t", name="sms", slug="sms",
                            definition={"consent": "sms_marketing"}),
    }
    for name in ("optin", "vip"):
        segment_evaluate(segment_id=segments[name].pk)
    profiles = {e.profile_id for e in ConsentEntry.objects.all()}
    assert _members(segments["optin"]) == _members(segments["vip"]) == profiles
    return segments


def test_withdrawal_removes_the_profile_from_consent_segments(
    source, newsletter, celery_eager, django_capture_on_commit_callbacks
):
    lea = ConsentEntry.objects.order_by("id").first().profile_id
    announced = []
    membership_changed.connect(lambda **kw: announced.append(kw["segment_id"]), weak=False,
                               dispatch_uid="t")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            _consent(source, PEOPLE[0], "withdrawn", timezone.now() - dt.timedelta(minutes=1))
    finally:
        membership_changed.disconnect(dispatch_uid="t")
    assert lea not in _members(newsletter["optin"])
    assert lea not in _members(newsletter["vip"])  # built on the consent segment
    assert len(_members(newsletter["optin"])) == 1
    assert set(announced) == {newsletter["optin"].pk, newsletter["vip"].pk}
    newsletter["optin"].refresh_from_db()
    assert newsletter["optin"].size == 1


def test_a_grant_brings_the_profile_in_at_once(
    source, newsletter, celery_eager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _consent(source, "nina@example.org", "granted", timezone.now() - dt.timedelta(hours=1))
    assert len(_members(newsletter["optin"])) == 3


def test_receiver_skips_purposes_no_segment_reads(source, newsletter, monkeypatch):
    """No task is enqueued for a purpose no enabled segment reads."""
    sent = []
    monkeypatch.setattr(receivers.consent_reevaluate_task, "delay",
                        lambda ids, purposes: sent.append(purposes))
    receivers.consent_reevaluate_on_change(
        sender=ConsentEntry, profile_ids={ConsentEntry.objects.first().profile_id},
        purposes={"partner_sharing"}, statuses={"withdrawn"})
    assert sent == []
    receivers.consent_reevaluate_on_change(
        sender=ConsentEntry, profile_ids={ConsentEntry.objects.first().profile_id},
        purposes={"sms_marketing", "partner_sharing"}, statuses={"withdrawn"})
    assert sent == [["partner_sharing", "sms_marketing"]]


def test_receiver_survives_a_broker_failure(source, newsletter, monkeypatch, caplog):
    def broken(*_):
        raise ConnectionError("broker down")

    monkeypatch.setattr(receivers.consent_reevaluate_task, "delay", broken)
    receivers.consent_reevaluate_on_change(
        sender=ConsentEntry, profile_ids={ConsentEntry.objects.first().profile_id},
        purposes={"email_marketing"}, statuses={"withdrawn"})
    assert "not enqueued" in caplog.text
