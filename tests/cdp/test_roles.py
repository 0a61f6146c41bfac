"""Roles: groups and their permissions after migrate, masked personal data for marketers
and stewards (admin and API), clear values for the DPO, and every forbidden path refused
with 403 and audited where it is a personal-data access."""

import io
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.core.management.sql import emit_post_migrate_signal
from django.utils import timezone
from rest_framework.test import APIClient

from cdp.admin import is_dpo
from cdp.audit import audit_record
from cdp.fields import ENCRYPTED_FIELDS
from cdp.models import ApiKey, AuditEvent, ConsentEntry, Profile, SourceRecord, SubjectRequest
from cdp.privacy.masking import (
    MASKS,
    mask_date,
    mask_email,
    mask_name,
    mask_personal,
    mask_phone,
)
from cdp.roles import Role, has_role, user_role_names, user_sees_personal_data
from cdp.services.api_keys import api_key_create
from cdp.services.record_parsing import ParsedRecord
from cdp.services.records import records_upsert

EMAIL = "jeanne.martin@gmail.com"


def _last_audit_id() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def _denied_since(start: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(id__gt=start, action="access.denied").order_by("id"))


def _codes(name: str) -> set[str]:
    return {f"{app}.{code}" for app, code in Group.objects.get(name=name).permissions
            .values_list("content_type__app_label", "codename")}


def _api(scopes: list[str], name: str) -> APIClient:
    _, raw = api_key_create(name=name, scopes=scopes)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


def _staff(client, username: str, *roles: str):
    """A staff user holding only the given role groups (as made by post_migrate)."""
    user = get_user_model().objects.create_user(username, f"{username}@example.org",
                                                "pw-123456", is_staff=True)
    user.groups.add(*Group.objects.filter(name__in=roles))
    client.force_login(user)
    return client


@pytest.fixture
def jeanne(source) -> SourceRecord:
    records_upsert(source=source, records=[ParsedRecord("J-1", {
        "first_name": "Jeanne", "last_name": "Martin", "email": EMAIL,
        "phone": "+33612345678", "birth_date": "1985-04-12",
        "address_line1": "12 rue des Lilas", "city": "Nantes",
    })])
    return SourceRecord.objects.get(external_id="J-1")


@pytest.fixture
def marketer(client, db):
    return _staff(client, "marketer", Role.MARKETER)


@pytest.fixture
def marketer_key(db) -> APIClient:
    return _api(["marketer"], "marketer-key")


# Groups and permissions


def test_groups_exist_with_their_permissions_after_migrate(db):
    """migrate leaves the four role groups, each with the permissions of its role."""
    assert set(Group.objects.values_list("name", flat=True)) >= {
        "marketer", "data_steward", "dpo", "admin"}
    marketer = _codes("marketer")
    assert {"segments.add_segment", "segments.change_segment", "segments.view_segment",
            "cdp.view_profile", "cdp.view_sourcerecord"} <= marketer
    assert not marketer & {"cdp.change_profile", "cdp.view_consententry",
                           "cdp.view_auditevent", "cdp.view_subjectrequest", "cdp.add_apikey"}
    steward = _codes("data_steward")
    assert {"cdp.view_profile", "cdp.view_sourcerecord"} <= steward
    assert not any(code.startswith("segments.") for code in steward)
    assert "cdp.view_consententry" not in steward
    dpo = _codes("dpo")
    assert {"cdp.view_consententry", "cdp.view_auditevent", "cdp.view_subjectrequest",
            "cdp.view_profile", "cdp.view_sourcerecord", "cdp.change_purpose"} <= dpo
    assert not dpo & {"cdp.add_apikey", "segments.add_segment"}
    assert len(_codes("admin")) == Permission.objects.count()


def test_sync_is_idempotent_and_picks_up_permissions_of_later_apps(db):
    """Re-running migrate's signal restores each group to its role and grants the
    permissions of models that appeared since (identity's, here faked)."""
    pair = ContentType.objects.create(app_label="identity", model="reviewpair")
    Permission.objects.create(content_type=pair, codename="view_reviewpair", name="x")
    marketer = Group.objects.get(name="marketer")
    marketer.permissions.remove(Permission.objects.get(codename="view_segment"))
    marketer.permissions.add(Permission.objects.get(codename="view_auditevent"))
    groups = Group.objects.count()

    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")

    assert Group.objects.count() == groups
    assert "identity.view_reviewpair" in _codes("data_steward")
    assert "identity.view_reviewpair" in _codes("admin")
    assert "identity.view_reviewpair" not in _codes("marketer")
    assert "segments.view_segment" in _codes("marketer")
    assert "cdp.view_auditevent" not in _codes("marketer")


def test_role_helpers(db):
    """Superusers and the admin group hold every role; inactive users none."""
    users = get_user_model().objects
    root = users.create_superuser("root", "r@example.org", "pw-123456")
    boss = users.create_user("boss", "b@example.org", "pw-123456")
    boss.groups.add(Group.objects.get(name="admin"))
    mark = users.create_user("mark", "m@example.org", "pw-123456")
    mark.groups.add(Group.objects.get(name="marketer"))
    gone = users.create_superuser("gone", "g@example.org", "pw-123456", is_active=False)
    assert user_role_names(root) == {"admin"} and user_role_names(mark) == {"marketer"}
    assert is_dpo(root) and is_dpo(boss) and has_role(boss, Role.STEWARD)
    assert has_role(mark, Role.MARKETER) and not has_role(mark, Role.DPO)
    assert not is_dpo(mark) and not user_sees_personal_data(mark)
    assert user_sees_personal_data(root) and not is_dpo(gone) and not user_role_names(gone)


# Masking


def test_masks():
    """Enough to recognise a pattern, not to contact or identify anyone."""
    assert mask_email(EMAIL) == "j***@gmail.com"
    assert mask_email("client1@orange.fr", keep_domain=False) == "c***@o***.fr"
    assert mask_phone("+33612345678") == "+*********78"
    assert mask_name(" Quéméner ") == "Q***" and mask_date("1985-04-12") == "1985"
    assert set(MASKS) == set(ENCRYPTED_FIELDS)
    masked = mask_personal({"email": None, "address_line1": "12 rue", "city": "Nantes",
                            "customer_id": "C-77"})
    assert masked == {"email": None, "address_line1": "***", "city": "Nantes",
                      "customer_id": "***"}


# What each role sees


def _record_page(client, record: SourceRecord) -> str:
    response = client.get(f"/admin/cdp/sourcerecord/{record.pk}/change/")
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("role", [Role.MARKETER, Role.STEWARD])
def test_admin_masks_personal_data_for_marketer_and_steward(client, jeanne, role):
    """The record page shows j***@gmail.com, initials and the birth year; audited."""
    _staff(client, "viewer", role)
    start = _last_audit_id()
    page = _record_page(client, jeanne)
    assert "j***@gmail.com" in page and "J***" in page and "M***" in page
    assert "+*********78" in page and "Nantes" in page
    for clear in (EMAIL, "Jeanne", "Martin", "0612345678", "1985-04-12", "Lilas"):
        assert clear not in page
    audit = AuditEvent.objects.get(id__gt=start, action="record.view")
    assert audit.actor == "user:viewer" and audit.details == {"masked": True}
    assert audit.profile_id == jeanne.profile_id


def test_admin_shows_clear_values_to_the_dpo(client, jeanne):
    _staff(client, "dpo-user", Role.DPO)
    start = _last_audit_id()
    page = _record_page(client, jeanne)
    assert EMAIL in page and "Martin" in page and "1985-04-12" in page
    audit = AuditEvent.objects.get(id__gt=start, action="record.view")
    assert audit.actor == "user:dpo-user" and audit.details == {}


@pytest.mark.parametrize(("scopes", "masked"), [
    (["marketer"], True), (["steward"], True), (["read"], False), (["dpo"], False),
])
def test_api_profile_is_masked_for_marketer_and_steward_keys(jeanne, scopes, masked):
    """GET /profiles/{id}: masked for marketer/steward keys, clear for read/dpo; audited
    as profile.view either way, saying whether it was masked."""
    start = _last_audit_id()
    response = _api(scopes, "k").get(f"/api/v1/profiles/{jeanne.profile_id}")
    assert response.status_code == 200
    record = response.json()["records"][0]
    if masked:
        assert (record["email"], record["last_name"], record["birth_date"]) == (
            "j***@gmail.com", "M***", "1985")
        assert record["address_line1"] == "***" and EMAIL not in response.content.decode()
    else:
        assert (record["email"], record["last_name"]) == (EMAIL, "Martin")
    assert record["city"] == "Nantes"
    audit = AuditEvent.objects.get(id__gt=start, action="profile.view")
    assert audit.details["masked"] is masked and audit.profile_id == jeanne.profile_id


def test_marketer_key_uses_the_segments_api(marketer_key, jeanne):
    """Marketers build segments: list, create, preview (masked sample)."""
    assert marketer_key.get("/api/v1/segments/").status_code == 200
    created = marketer_key.post("/api/v1/segments/", {
        "name": "Nantes", "slug": "nantes",
        "definition": {"attribute": "city", "op": "eq", "value": "Nantes"}}, format="json")
    assert created.status_code == 201, created.content
    preview = marketer_key.post("/api/v1/segments/preview", {
        "definition": {"attribute": "city", "op": "eq", "value": "Nantes"}}, format="json")
    assert preview.status_code == 200 and preview.json()["count"] == 1
    assert EMAIL not in preview.content.decode()


# Refusals


def _refused_api_calls(pid: uuid.UUID) -> list[tuple[str, str, dict, uuid.UUID | None]]:
    return [
        ("get", "/api/v1/consents/export", {}, None),
        ("get", "/api/v1/audit", {"subject": str(pid)}, pid),
        ("post", "/api/v1/subjects/access", {"profile_id": str(pid)}, pid),
        ("post", f"/api/v1/profiles/{pid}/restriction", {"reason": "x"}, pid),
        ("delete", f"/api/v1/profiles/{pid}/restriction", {"reason": "x"}, pid),
        ("get", f"/api/v1/profiles/{pid}/consents", {}, pid),
    ]


def test_marketer_key_is_refused_dpo_paths_and_each_refusal_is_audited(marketer_key, jeanne):
    """Consent and audit exports, DSAR, restriction and consent evidence: 403, nothing
    done, and one access.denied row per attempt naming the path and the subject."""
    pid = jeanne.profile_id
    for method, path, body, subject in _refused_api_calls(pid):
        start = _last_audit_id()
        if method == "get":
            response = marketer_key.get(path, body)
        else:
            response = getattr(marketer_key, method)(path, body, format="json")
        assert response.status_code == 403, path
        [denied] = _denied_since(start)
        assert denied.actor == "api-key:marketer-key" and denied.object_type == "api"
        assert denied.details["path"] == path and denied.details["method"] == method.upper()
        assert denied.details["scopes"] == ["marketer"] and denied.profile_id == subject
    assert Profile.objects.get(pk=pid).restricted_at is None
    assert not SubjectRequest.objects.exists()
    assert not AuditEvent.objects.filter(action__in=["consent.export", "audit.export",
                                                     "consent.view"]).exists()


def test_refusals_outside_personal_data_are_not_audited(marketer_key, source):
    """A marketer key may not ingest (403), but that is no personal-data access; nor is an
    OPTIONS request."""
    start = _last_audit_id()
    response = marketer_key.post("/api/v1/records/batch", {"source": "crm", "records": [
        {"external_id": "X"}]}, format="json")
    assert response.status_code == 403
    marketer_key.options("/api/v1/consents/export")
    assert not _denied_since(start)


def test_admin_refuses_the_marketer_dpo_pages_and_exports_audited(marketer, jeanne):
    """Ledger, audit log and subject register pages, and forged POSTs of the export and
    restriction actions: 403, each audited with the action and the subject."""
    pid = jeanne.profile_id
    entry = ConsentEntry.objects.create(profile_id=pid, purpose="profiling", status="denied",
                                        captured_at=timezone.now())
    audit_row = audit_record(actor="user:dpo", action="profile.view", profile_id=pid)
    attempts = [
        ("/admin/cdp/consententry/", {"action": "export_csv", "_selected_action": [entry.pk]},
         "cdp.consententry:export_csv", pid),
        ("/admin/cdp/consententry/", {"action": "export_json",
                                      "_selected_action": [entry.pk]},
         "cdp.consententry:export_json", pid),
        ("/admin/cdp/auditevent/", {"action": "export_csv", "_selected_action": [audit_row.pk]},
         "cdp.auditevent:export_csv", pid),
        ("/admin/cdp/profile/", {"action": "restrict_processing", "_selected_action": [pid],
                                 "apply": "yes", "reason": "x"},
         "cdp.profile:restrict_processing", pid),
        ("/admin/cdp/profile/", {"action": "lift_restriction", "index": "0",
                                 "_selected_action": [pid]},
         "cdp.profile:lift_restriction", pid),
        ("/admin/cdp/consententry/", None, "cdp.consententry:changelist", None),
        ("/admin/cdp/auditevent/", None, "cdp.auditevent:changelist", None),
        ("/admin/cdp/subjectrequest/", None, "cdp.subjectrequest:changelist", None),
        (f"/admin/cdp/consententry/{entry.pk}/change/", None, "cdp.consententry:change", pid),
    ]
    for path, post, attempted, subject in attempts:
        start = _last_audit_id()
        response = marketer.post(path, post) if post else marketer.get(path)
        assert response.status_code == 403, attempted
        [denied] = _denied_since(start)
        assert (denied.actor, denied.object_type, denied.object_id) == (
            "user:marketer", "admin", attempted)
        assert denied.profile_id == subject and denied.details["roles"] == ["marketer"]
    assert Profile.objects.get(pk=pid).restricted_at is None
    assert not AuditEvent.objects.filter(action__in=["consent.export", "audit.export",
                                                     "profile.restrict"]).exists()


def test_admin_offers_the_marketer_profiles_but_no_dpo_action(marketer, jeanne):
    page = marketer.get("/admin/cdp/profile/")
    assert page.status_code == 200 and "restrict_processing" not in page.content.decode()


def test_dpo_group_alone_gives_the_dpo_admin(client, jeanne):
    """The dpo role's permissions are enough for the ledger, the log and their exports."""
    dpo = _staff(client, "dpo-user", Role.DPO)
    entry = ConsentEntry.objects.create(profile_id=jeanne.profile_id, purpose="profiling",
                                        status="granted", captured_at=timezone.now())
    assert dpo.get("/admin/cdp/auditevent/").status_code == 200
    start = _last_audit_id()
    response = dpo.post("/admin/cdp/consententry/", {"action": "export_json",
                                                     "_selected_action": [entry.pk]})
    assert response.status_code == 200 and response.streaming
    b"".join(response.streaming_content)
    assert AuditEvent.objects.filter(id__gt=start, action="consent.export").exists()
    assert not _denied_since(start)


# Scopes


def test_create_api_key_accepts_the_role_scopes(db):
    out = io.StringIO()
    call_command("create_api_key", "campaigns", "--scopes", "marketer,steward", stdout=out)
    assert ApiKey.objects.get(name="campaigns").scopes == ["marketer", "steward"]
    assert out.getvalue().startswith("cdp_")


def test_admin_key_form_accepts_the_role_scopes(admin_client):
    response = admin_client.post("/admin/cdp/apikey/add/", {
        "name": "crm-marketing", "scopes": ["marketer"], "rate": ""}, follow=True)
    assert response.status_code == 200
    assert ApiKey.objects.get(name="crm-marketing").scopes == ["marketer"]


def test_browsable_api_form_checks_are_not_attempts(marketer_key, jeanne):
    """Rendering the HTML error page asks whether the key may use the other methods too;
    only the request actually made is audited."""
    start = _last_audit_id()
    response = marketer_key.post(f"/api/v1/profiles/{jeanne.profile_id}/restriction",
                                 {"reason": "x"}, format="json", HTTP_ACCEPT="text/html")
    assert response.status_code == 403
    assert [d.details["method"] for d in _denied_since(start)] == ["POST"]
