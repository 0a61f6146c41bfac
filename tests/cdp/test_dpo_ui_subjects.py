"""The DPO's subject pages: search by email or phone (audited, no value in the audit log),
access archive, restriction and erasure behind a confirmation with a reason; DPO and
admin only, a refusal audited."""

import io
import zipfile

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from cdp.models import AuditEvent, ConsentEntry, Profile, SourceRecord, SubjectRequest
from cdp.roles import Role
from cdp.selectors import profiles_by_identifier
from cdp.services.record_parsing import ParsedRecord
from cdp.services.records import records_upsert
from cdp.services.subject_search import SubjectInvalid, subject_search
from tests.conftest import staff_login

EMAIL = "jeanne.martin@gmail.com"
SEARCH = "/admin/ui/privacy/subjects/"



@pytest.fixture
def jeanne(source) -> Profile:
    records_upsert(source=source, records=[ParsedRecord("J-1", {
        "first_name": "Jeanne", "last_name": "Martin", "email": EMAIL,
        "phone": "+33612345678", "city": "Nantes"})])
    profile = SourceRecord.objects.get(external_id="J-1").profile
    ConsentEntry.objects.create(profile=profile, purpose="email_marketing", status="granted",
                                captured_at=timezone.now())
    ConsentEntry.objects.create(profile=profile, purpose="profiling", status="withdrawn",
                                captured_at=timezone.now())
    return profile


def _searches() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="subject.search").order_by("id"))


def test_the_urls_are_those_the_sidebar_links_to():
    assert reverse("cdp_ui:subject_search") == SEARCH
    assert reverse("cdp_ui:retention") == "/admin/ui/privacy/retention/"


def test_search_by_email_shows_the_person_and_their_consents_audited(dpo, jeanne):
    """Any spelling of the address finds the profile (blind index of the normalized form);
    the page shows the records in clear and the state of each purpose; the audit row says
    who searched, how and whom, never the address."""
    page = dpo.post(SEARCH, {"value": "  Jeanne.Martin@GMAIL.com "})
    html = page.content.decode()
    assert page.status_code == 200 and str(jeanne.pk) in html and "Nantes" in html
    assert 'data-purpose="email_marketing" data-state="granted"' in html
    assert 'data-purpose="profiling" data-state="withdrawn"' in html
    [audit] = _searches()
    assert (audit.actor, audit.profile_id) == ("user:dominique", jeanne.pk)
    assert audit.details["identified_by"] == "email" and audit.details["matches"] == 1
    assert EMAIL not in str(audit.details) and "jeanne" not in str(audit.details).lower()


def test_search_by_phone_and_no_match(dpo, jeanne):
    assert str(jeanne.pk) in dpo.post(SEARCH, {"value": "06 12 34 56 78"}).content.decode()
    page = dpo.post(SEARCH, {"value": "nobody@example.org"}).content.decode()
    assert 'id="no-match"' in page
    assert [a.details["matches"] for a in _searches()] == [1, 0]


def test_search_refuses_a_value_that_is_no_identifier(dpo, jeanne):
    page = dpo.post(SEARCH, {"value": "not a phone"})
    assert page.status_code == 200 and "data-profile" not in page.content.decode()
    with pytest.raises(SubjectInvalid):
        subject_search(kind="customer_id", value="x", actor="t")
    assert not _searches()


def test_access_archive_download(dpo, jeanne):
    response = dpo.post(reverse("cdp_ui:subject_access", args=[jeanne.pk]), {"by": "email"})
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert "subject.json" in archive.namelist()
    assert EMAIL in archive.read("subject.json").decode()
    request = SubjectRequest.objects.get(kind="access")
    assert request.identified_by == "email" and request.handled_by == "user:dominique"


def test_erasure_asks_for_a_reason_then_erases(dpo, jeanne):
    url = reverse("cdp_ui:subject_erase", args=[jeanne.pk]) + "?by=email"
    page = dpo.get(url)
    assert page.status_code == 200 and b'name="reason"' in page.content
    assert dpo.post(url, {"reason": "  ", "by": "email"}).status_code == 200  # asked again
    assert Profile.objects.filter(pk=jeanne.pk).exists()
    response = dpo.post(url, {"reason": "ticket 42, Art. 17(1)(b)", "by": "email"})
    assert response.status_code == 302 and response["Location"] == SEARCH
    assert not Profile.objects.filter(pk=jeanne.pk).exists()
    assert not profiles_by_identifier("email", EMAIL).exists()
    erase = AuditEvent.objects.get(action="subject.erase")
    assert erase.reason == "ticket 42, Art. 17(1)(b)" and erase.actor == "user:dominique"
    assert SubjectRequest.objects.get(kind="erasure").identified_by == "email"


def test_restriction_and_its_lifting_ask_for_a_reason(dpo, jeanne):
    url = reverse("cdp_ui:subject_restrict", args=[jeanne.pk])
    assert b"name=\"reason\"" in dpo.get(url).content
    dpo.post(url, {"reason": "contested accuracy", "op": "restrict"})
    jeanne.refresh_from_db()
    assert jeanne.restricted_at is not None
    dpo.post(url, {"reason": "accuracy checked", "op": "lift"})
    jeanne.refresh_from_db()
    assert jeanne.restricted_at is None
    assert [a.reason for a in AuditEvent.objects.filter(action__startswith="profile.")
            .exclude(action="profile.view").order_by("id")] == [
        "contested accuracy", "accuracy checked"]


def test_a_resubmitted_restriction_does_not_lift_it(dpo, jeanne):
    """A double click (or a second DPO) sends "restrict" twice: the second changes
    nothing, where deciding from the current state would have lifted it."""
    url = reverse("cdp_ui:subject_restrict", args=[jeanne.pk])
    assert b'name="op" value="restrict"' in dpo.get(url).content
    for _ in range(2):
        assert dpo.post(url, {"reason": "contested accuracy", "op": "restrict"}).status_code == 302
    jeanne.refresh_from_db()
    assert jeanne.restricted_at is not None
    assert not AuditEvent.objects.filter(action="profile.unrestrict").exists()


def test_an_access_reason_too_long_is_refused(dpo, jeanne):
    response = dpo.post(reverse("cdp_ui:subject_access", args=[jeanne.pk]),
                        {"by": "email", "reason": "x" * 301})
    assert response.status_code == 400
    assert not SubjectRequest.objects.filter(kind="access").exists()


def test_an_unknown_profile_is_404(dpo, db):
    url = reverse("cdp_ui:subject_erase", args=["00000000-0000-0000-0000-000000000000"])
    assert dpo.get(url).status_code == 404


@pytest.mark.parametrize("role", [Role.MARKETER, Role.STEWARD, None])
def test_other_roles_are_refused_and_the_refusal_audited(client, jeanne, role):
    staff_login(client, "other", *([role] if role else []))
    staff = client
    pages = [
        ("get", SEARCH, None), ("post", SEARCH, None),
        ("post", reverse("cdp_ui:subject_access", args=[jeanne.pk]), jeanne.pk),
        ("post", reverse("cdp_ui:subject_erase", args=[jeanne.pk]), jeanne.pk),
        ("get", reverse("cdp_ui:subject_restrict", args=[jeanne.pk]), jeanne.pk),
        ("get", reverse("cdp_ui:retention"), None),
        ("post", reverse("cdp_ui:retention_run"), None),
        ("post", reverse("cdp_ui:audit_verify"), None),
    ]
    for method, url, subject in pages:
        start = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
        data = {"value": EMAIL, "reason": "x"} if method == "post" else None
        response = getattr(staff, method)(url, data)
        assert response.status_code == 403, url
        [denied] = AuditEvent.objects.filter(id__gt=start, action="access.denied")
        assert denied.actor == "user:other" and denied.object_id.startswith("cdp_ui:")
        assert denied.profile_id == subject
    assert Profile.objects.filter(pk=jeanne.pk, restricted_at__isnull=True).exists()
    assert not AuditEvent.objects.filter(action__in=["subject.search", "dsar.access",
                                                     "retention.purge"]).exists()


def test_anonymous_users_are_sent_to_the_login_page(client, db):
    response = client.get(SEARCH)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_admins_may_open_the_dpo_pages(client, jeanne):
    admin = get_user_model().objects.create_superuser("root", "root@example.org", "pw-123456")
    client.force_login(admin)
    assert client.get(SEARCH).status_code == 200
    assert client.get(reverse("cdp_ui:retention")).status_code == 200
