"""Restriction of processing (GDPR Art. 18): data kept, the profile out of every segment
and kept out by every evaluation; from the service, the command and the admin; audited."""

import datetime as dt
import io

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from cdp.models import AuditEvent, ConsentEntry, Profile, Purpose, SourceRecord
from cdp.services.record_parsing import ParsedRecord
from cdp.services.records import records_upsert
from cdp.services.restriction import ReasonRequired, profile_restrict, profile_unrestrict
from segments.evaluation import segment_evaluate, segment_evaluate_profiles
from segments.models import Segment
from segments.services import segment_save
from segments.signals import membership_changed


def _last_audit_id() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


@pytest.fixture
def people(source) -> dict[str, Profile]:
    records_upsert(source=source, records=[
        ParsedRecord("A", {"email": "anne@example.org", "phone": "+33612345678",
                           "city": "Brest"}),
        ParsedRecord("B", {"email": "bruno@example.org", "city": "Brest"}),
    ])
    return {r.external_id: r.profile for r in SourceRecord.objects.select_related("profile")}


@pytest.fixture
def segments(people) -> list[Segment]:
    """Everyone in Brest; everyone granted email marketing (both are)."""
    for profile in people.values():
        ConsentEntry.objects.create(profile=profile, purpose="email_marketing",
                                    status="granted",
                                    captured_at=timezone.now() - dt.timedelta(days=3))
    chosen = [
        segment_save(actor="t", name="brest", slug="brest",
                     definition={"attribute": "city", "op": "eq", "value": "Brest"}),
        segment_save(actor="t", name="optin", slug="optin",
                     definition={"consent": "email_marketing"}),
        segment_save(actor="t", name="not-optin", slug="not-optin",
                     definition={"not": {"consent": "email_marketing"}}),
    ]
    for segment in chosen:
        segment_evaluate(segment_id=segment.pk)
    return chosen


def _members(segment: Segment) -> set:
    return set(segment.memberships.filter(exited_at__isnull=True)
               .values_list("profile_id", flat=True))


def test_restrict_sets_the_date_audits_and_is_safe_twice(people):
    anne, start = people["A"], _last_audit_id()
    assert profile_restrict(profile=anne, actor="user:dpo", reason=" Art. 18 #12 ") is True
    anne.refresh_from_db()
    assert anne.restricted_at is not None
    assert profile_restrict(profile=anne, actor="user:dpo", reason="again") is False
    assert profile_unrestrict(profile=anne, actor="user:dpo", reason="closed") is True
    assert profile_unrestrict(profile=anne, actor="user:dpo", reason="closed") is False
    rows = AuditEvent.objects.filter(id__gt=start).order_by("id")
    assert [(r.action, r.reason, r.profile_id) for r in rows] == [
        ("profile.restrict", "Art. 18 #12", anne.pk), ("profile.unrestrict", "closed", anne.pk)]
    with pytest.raises(ReasonRequired):
        profile_restrict(profile=anne, actor="user:dpo", reason="  ")


def test_restriction_removes_the_profile_from_every_segment_and_keeps_it_out(
    people, segments, django_capture_on_commit_callbacks
):
    anne, bruno = people["A"], people["B"]
    brest, optin, not_optin = segments
    assert _members(brest) == _members(optin) == {anne.pk, bruno.pk}
    announced = []
    membership_changed.connect(lambda **kw: announced.append(kw["segment_id"]), weak=False,
                               dispatch_uid="t")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            profile_restrict(profile=anne, actor="user:dpo", reason="request #7")
    finally:
        membership_changed.disconnect(dispatch_uid="t")
    assert _members(brest) == _members(optin) == {bruno.pk}
    assert sorted(announced) == sorted([brest.pk, optin.pk])
    brest.refresh_from_db()
    assert brest.size == 1
    assert SourceRecord.objects.filter(profile=anne).exists()  # the data is kept

    # Neither a full run nor a real-time one takes her back, even "not consented".
    for segment in segments:
        segment_evaluate(segment_id=segment.pk)
        segment_evaluate_profiles(segment=segment, profile_ids=[anne.pk])
        assert anne.pk not in _members(segment)


def test_lifting_the_restriction_lets_segments_take_the_profile_back(
    people, segments, celery_eager, django_capture_on_commit_callbacks
):
    anne = people["A"]
    with django_capture_on_commit_callbacks(execute=True):
        profile_restrict(profile=anne, actor="user:dpo", reason="request #7")
    with django_capture_on_commit_callbacks(execute=True):
        profile_unrestrict(profile=anne, actor="user:dpo", reason="request closed")
    assert anne.pk in _members(segments[0]) and anne.pk in _members(segments[1])
    assert anne.pk not in _members(segments[2])


def _restrict(*args: str) -> str:
    out = io.StringIO()
    call_command("restrict_subject", *args, stdout=out)
    return out.getvalue()


def test_restrict_subject_by_email_phone_or_profile(people):
    anne, bruno = people["A"], people["B"]
    out = _restrict("--email", "  Anne@Example.ORG", "--reason", "Art. 18 request")
    assert out.strip() == f"{anne.pk}: restricted"
    assert _restrict("--phone", "06 12 34 56 78", "--reason", "again").strip() == (
        f"{anne.pk}: already restricted")
    assert _restrict("--profile", str(bruno.pk), "--reason", "x").strip() == (
        f"{bruno.pk}: restricted")
    out = _restrict("--email", "anne@example.org", "--reason", "closed", "--lift")
    assert out.strip() == f"{anne.pk}: lifted"
    audit = AuditEvent.objects.filter(action="profile.restrict", profile_id=anne.pk).get()
    assert audit.reason == "Art. 18 request" and audit.actor.startswith("command:")


@pytest.mark.parametrize(("args", "message"), [
    (["--email", "nobody@example.org"], "no profile matches that subject"),
    (["--email", "not an email"], "--email: "),
    (["--profile", "123"], "--profile: not a profile id"),
    (["--email", "anne@example.org", "--reason", " "], "--reason must say why"),
])
def test_restrict_subject_refuses_with_one_line(people, args, message):
    if "--reason" not in args:
        args = [*args, "--reason", "Art. 18"]
    with pytest.raises(CommandError, match=message) as failure:
        _restrict(*args)
    assert "\n" not in str(failure.value)
    assert not Profile.objects.filter(restricted_at__isnull=False).exists()


@pytest.fixture
def dpo(client, db):
    user = get_user_model().objects.create_user("dpo", "dpo@example.org", "pw-123456",
                                                is_staff=True)
    user.groups.add(Group.objects.get_or_create(name="dpo")[0])
    user.user_permissions.add(*_view_permissions())
    client.force_login(user)
    return client


def _view_permissions():
    from django.contrib.auth.models import Permission

    return Permission.objects.filter(codename__in=["view_profile", "view_consententry"])


def test_admin_restriction_asks_for_a_reason_then_restricts(dpo, people):
    anne = people["A"]
    url = "/admin/cdp/profile/"
    page = dpo.post(url, {"action": "restrict_processing", "_selected_action": [anne.pk]})
    assert page.status_code == 200 and b"name=\"reason\"" in page.content
    anne.refresh_from_db()
    assert anne.restricted_at is None  # nothing before the confirmation
    done = dpo.post(url, {"action": "restrict_processing", "_selected_action": [anne.pk],
                          "apply": "yes", "reason": "Art. 18 request #3"}, follow=True)
    assert done.status_code == 200
    anne.refresh_from_db()
    assert anne.restricted_at is not None
    assert AuditEvent.objects.get(action="profile.restrict").actor == "user:dpo"
    dpo.post(url, {"action": "lift_restriction", "_selected_action": [anne.pk],
                   "apply": "yes", "reason": "closed"})
    anne.refresh_from_db()
    assert anne.restricted_at is None


def test_admin_restriction_and_consent_export_are_for_the_dpo_group(client, people):
    user = get_user_model().objects.create_user("marketer", "m@example.org", "pw-123456",
                                                is_staff=True)
    user.user_permissions.add(*_view_permissions())
    client.force_login(user)
    page = client.get("/admin/cdp/profile/").content.decode()
    assert "restrict_processing" not in page
    client.post("/admin/cdp/profile/", {"action": "restrict_processing", "apply": "yes",
                                        "_selected_action": [people["A"].pk], "reason": "x"})
    assert not Profile.objects.filter(restricted_at__isnull=False).exists()
    assert "export_csv" not in client.get("/admin/cdp/consententry/").content.decode()


def test_admin_consent_export_streams_the_selection_audited(dpo, people):
    entry = ConsentEntry.objects.create(profile=people["A"], purpose="profiling",
                                        status="denied", captured_at=timezone.now())
    response = dpo.post("/admin/cdp/consententry/", {"action": "export_json",
                                                     "_selected_action": [entry.pk]})
    assert response.status_code == 200 and response.streaming
    assert b'"status": "denied"' in b"".join(response.streaming_content)
    audit = AuditEvent.objects.get(action="consent.export")
    assert audit.details["via"] == "admin" and audit.details["selected"] == "1"


def test_admin_ledger_is_read_only_and_purposes_are_data(admin_client, people):
    """Entries cannot be added or changed in the admin; purposes can be added, not deleted."""
    entry = ConsentEntry.objects.create(profile=people["A"], purpose="profiling",
                                        status="granted", captured_at=timezone.now())
    assert admin_client.get("/admin/cdp/consententry/add/").status_code == 403
    admin_client.post(f"/admin/cdp/consententry/{entry.pk}/change/", {"status": "denied"})
    entry.refresh_from_db()
    assert entry.status == "granted"
    admin_client.post("/admin/cdp/purpose/add/", {"slug": "loyalty", "name": "Loyalty"})
    assert Purpose.objects.filter(slug="loyalty").exists()
    assert admin_client.post("/admin/cdp/purpose/loyalty/delete/").status_code == 403
