"""What audit rows learn from the request (request id, truncated IP), and audited logins."""

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings

from cdp.audit import audit_context, audit_record, ip_truncate
from cdp.models import AuditEvent, SourceRecord
from cdp.privacy.crypto import keyed_hash
from cdp.services.record_parsing import ParsedRecord
from cdp.services.records import records_upsert

PASSWORD = "correct-horse-9"


@pytest.mark.parametrize(("address", "prefix"), [
    ("192.0.2.77", "192.0.2.0/24"),
    (" 198.51.100.1 ", "198.51.100.0/24"),
    ("2001:db8:abcd:12:34::1", "2001:db8:abcd::/48"),
    ("::ffff:203.0.113.9", "203.0.113.0/24"),
    ("10.1.0.0/16", "10.1.0.0/16"),
    ("192.0.2.0/24", "192.0.2.0/24"),
    ("not-an-ip", ""),
    ("", ""),
])
def test_ip_truncate_keeps_the_network_only(address, prefix):
    """IPv4 to /24, IPv6 to /48 (IPv4-mapped as IPv4); anything else is dropped."""
    assert ip_truncate(address) == prefix


def test_explicit_ip_and_request_id_override_the_context(db):
    """A caller may pass its own; the IP is truncated all the same."""
    with audit_context(request_id="ctx", ip="192.0.2.1"):
        inside = audit_record(actor="t", action="x")
        given = audit_record(actor="t", action="x", request_id="own", ip="198.51.100.200")
    outside = audit_record(actor="t", action="x")
    assert (inside.request_id, inside.ip_prefix) == ("ctx", "192.0.2.0/24")
    assert (given.request_id, given.ip_prefix) == ("own", "198.51.100.0/24")
    assert (outside.request_id, outside.ip_prefix) == ("", "")


@pytest.fixture
def profile_id(source):
    records_upsert(source=source, records=[ParsedRecord("A-1", {"email": "ana@example.org"})])
    return SourceRecord.objects.get(external_id="A-1").profile_id


def _last_view() -> AuditEvent:
    return AuditEvent.objects.filter(action="profile.view").latest("id")


def test_api_call_records_request_id_and_truncated_ip(read_client, profile_id):
    """The caller's X-Request-ID is kept and echoed; REMOTE_ADDR is stored as a /24."""
    response = read_client.get(f"/api/v1/profiles/{profile_id}",
                               REMOTE_ADDR="192.0.2.77", HTTP_X_REQUEST_ID="req-42.a")
    assert response.status_code == 200 and response["X-Request-ID"] == "req-42.a"
    audit = _last_view()
    assert (audit.request_id, audit.ip_prefix) == ("req-42.a", "192.0.2.0/24")
    assert "192.0.2.77" not in str(AuditEvent.objects.filter(pk=audit.pk).values().get())


def test_an_unusable_request_id_is_replaced(read_client, profile_id):
    """A header too long or with odd characters gets a fresh id (uuid4 hex) instead."""
    response = read_client.get(f"/api/v1/profiles/{profile_id}",
                               REMOTE_ADDR="2001:db8:1:2::5", HTTP_X_REQUEST_ID="a b<script>")
    generated = response["X-Request-ID"]
    assert len(generated) == 32 and int(generated, 16) >= 0
    assert (_last_view().request_id, _last_view().ip_prefix) == (generated, "2001:db8:1::/48")


def test_forwarded_for_is_trusted_only_behind_declared_proxies(read_client, profile_id):
    """X-Forwarded-For is ignored by default; with one trusted proxy its last hop counts."""
    url = f"/api/v1/profiles/{profile_id}"
    headers = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 203.0.113.50"}
    read_client.get(url, **headers)
    assert _last_view().ip_prefix == "10.0.0.0/24"
    with override_settings(CDP_TRUSTED_PROXY_COUNT=1):
        read_client.get(url, **headers)
    assert _last_view().ip_prefix == "203.0.113.0/24"


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user(
        "ana.dpo@example.org", "ana.dpo@example.org", PASSWORD, is_staff=True)


def test_login_is_audited(client, user):
    """A successful login names the user."""
    assert client.login(username=user.username, password=PASSWORD)
    audit = AuditEvent.objects.filter(action="auth.login").latest("id")
    assert audit.actor == f"user:{user.username}" and audit.object_id == str(user.pk)


def test_failed_login_is_audited_without_password_or_clear_username(client, user):
    """A failed admin login keeps a keyed hash of the username, never the password, and
    the request id and truncated IP of the attempt."""
    response = client.post("/admin/login/", {"username": user.username, "password": "guess-1"},
                           REMOTE_ADDR="198.51.100.23")
    assert response.status_code == 200  # the form again
    audit = AuditEvent.objects.filter(action="auth.login_failed").latest("id")
    assert audit.details == {"username_hash": keyed_hash(user.username)}
    assert audit.ip_prefix == "198.51.100.0/24" and audit.request_id == response["X-Request-ID"]
    stored = str(AuditEvent.objects.filter(pk=audit.pk).values().get())
    assert "guess-1" not in stored and "ana.dpo" not in stored
    assert not client.login(username=user.username, password="guess-2")
    assert AuditEvent.objects.filter(action="auth.login_failed").count() == 2
