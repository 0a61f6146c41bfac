"""Connectors admin: pages load, forms save through the services (credentials write-only,
validation shown on the form), "Run now", runs read-only, erasure proof for the DPO."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client

from cdp.models import AuditEvent
from cdp.roles import Role
from cdp.services.erasure import subject_erase
from connectors.engine import sync_run
from connectors.models import AudienceSync, Destination, ErasureDelivery
from connectors.registry import credentials_open
from tests.connectors.conftest import LIST_ID, TAG

KEY = "abcdefabcdefabcdefabcdefabcdef12-us19"


def _staff(username: str, *roles: str, superuser: bool = False) -> Client:
    users = get_user_model().objects
    if superuser:
        user = users.create_superuser(username, f"{username}@example.org", "pw-123456")
    else:
        user = users.create_user(username, f"{username}@example.org", "pw-123456",
                                 is_staff=True)
        user.groups.add(*Group.objects.filter(name__in=roles))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin_user(db) -> Client:
    return _staff("root", superuser=True)


@pytest.fixture
def marketer(db) -> Client:
    return _staff("mia", Role.MARKETER)


@pytest.fixture
def dpo(db) -> Client:
    return _staff("dora", Role.DPO)


def _destination_form(**changes) -> dict:
    return {"name": "mc-admin", "kind": "mailchimp", "purpose": "email_marketing",
            "base_url": "", "field_mapping": '{"FNAME": "first_name"}', "enabled": "on",
            "credential_api_key": KEY, "credential_secret": "", "rate_per_s": "",
            "max_concurrency": "", "batch_size": "", "timeout_s": "30", "max_retries": "6",
            "failure_threshold": "0.05", **changes}


def test_pages_load(admin_user, mailchimp_sync):
    """Every connectors page answers for an admin."""
    pk, dest = mailchimp_sync.pk, mailchimp_sync.destination_id
    for url in ("/admin/connectors/destination/", "/admin/connectors/destination/add/",
                f"/admin/connectors/destination/{dest}/change/",
                "/admin/connectors/audiencesync/", "/admin/connectors/audiencesync/add/",
                f"/admin/connectors/audiencesync/{pk}/change/",
                "/admin/connectors/syncrun/?flagged__exact=1&status__exact=failed",
                "/admin/connectors/erasuredelivery/"):
        assert admin_user.get(url).status_code == 200, url


def test_destination_saved_through_the_service_with_write_only_key(admin_user):
    """The form seals the key (never shown back), blank keeps it, the save is audited,
    and admins see the opt-out webhook URL with its token."""
    response = admin_user.post("/admin/connectors/destination/add/", _destination_form())
    assert response.status_code == 302, response.content.decode()[:2000]
    destination = Destination.objects.get(name="mc-admin")
    assert credentials_open(destination) == {"api_key": KEY}
    assert destination.inbound_token
    assert AuditEvent.objects.filter(action="destination.create", actor="user:root").exists()
    url = f"/admin/connectors/destination/{destination.pk}/change/"
    page = admin_user.get(url).content.decode()
    assert KEY not in page and "api_key" in page
    assert (f"/api/v1/destinations/{destination.pk}/webhooks/mailchimp"
            f"?token={destination.inbound_token}") in page
    changed = admin_user.post(url, _destination_form(credential_api_key="", rate_per_s="3"))
    assert changed.status_code == 302
    destination.refresh_from_db()
    assert destination.rate_per_s == 3 and credentials_open(destination) == {"api_key": KEY}
    assert AuditEvent.objects.filter(action="destination.change").exists()


def test_destination_form_shows_service_errors(admin_user):
    """What the service refuses is shown on the form, at the field; nothing is saved."""
    bad_mapping = admin_user.post("/admin/connectors/destination/add/",
                                  _destination_form(field_mapping='{"FNAME": "shoe_size"}'))
    assert bad_mapping.status_code == 200
    assert "unknown profile field" in bad_mapping.content.decode()
    no_key = admin_user.post("/admin/connectors/destination/add/",
                             _destination_form(credential_api_key=""))
    assert "required: api_key" in no_key.content.decode()
    assert not Destination.objects.exists()


def test_sync_saved_through_the_service_and_run_now(admin_user, audience, mailchimp,
                                                    mailchimp_destination, celery_eager):
    """A sync made in the admin is scheduled and audited; "Run now" sends the audience."""
    audience.add(2)
    audience.evaluate()
    form = {"segment": audience.segment.pk, "destination": mailchimp_destination.pk,
            "mode": "upsert_and_remove", "container": f'{{"list_id": "{LIST_ID}"}}',
            "schedule": "", "enabled": "on"}
    refused = admin_user.post("/admin/connectors/audiencesync/add/", form)
    assert refused.status_code == 200 and "mailchimp needs tag" in refused.content.decode()
    form["container"] = f'{{"list_id": "{LIST_ID}", "tag": "{TAG}"}}'
    assert admin_user.post("/admin/connectors/audiencesync/add/", form).status_code == 302
    sync = AudienceSync.objects.get()
    assert AuditEvent.objects.filter(action="sync.create", actor="user:root").exists()
    response = admin_user.post("/admin/connectors/audiencesync/", {
        "action": "run_now", "_selected_action": [sync.pk]})
    assert response.status_code == 302
    assert mailchimp.tag_members(TAG) == {"person0@cdp.test", "person1@cdp.test"}
    runs = admin_user.get(f"/admin/connectors/syncrun/?sync__id__exact={sync.pk}")
    assert runs.status_code == 200 and "succeeded" in runs.content.decode().lower()


def test_marketer_sees_destinations_but_not_secrets_nor_erasures(marketer, mailchimp_sync):
    """Marketers read destinations (no credential input, no token) and manage syncs;
    destinations are admin-written; erasure proofs are refused and the refusal audited."""
    destination = mailchimp_sync.destination
    page = marketer.get(f"/admin/connectors/destination/{destination.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert destination.inbound_token not in text and 'type="password"' not in text
    assert marketer.get("/admin/connectors/destination/add/").status_code == 403
    assert marketer.get(f"/admin/connectors/audiencesync/{mailchimp_sync.pk}/change/"
                        ).status_code == 200
    assert marketer.get("/admin/connectors/syncrun/").status_code == 200
    assert marketer.get("/admin/connectors/erasuredelivery/").status_code == 403
    assert AuditEvent.objects.filter(action="access.denied", actor="user:mia").exists()


def test_dpo_exports_erasure_proof(dpo, marketer, audience, mailchimp, mailchimp_sync):
    """The DPO's export action streams the selected deliveries and is audited; a forged
    export by a marketer is refused."""
    audience.add(1)
    audience.evaluate()
    sync_run(sync_id=mailchimp_sync.pk)
    subject_erase(profile_ids=[audience.profile(0)], identified_by="profile", actor="t",
                  reason="Art. 17")
    delivery = ErasureDelivery.objects.get()
    assert dpo.get("/admin/connectors/erasuredelivery/").status_code == 200
    response = dpo.post("/admin/connectors/erasuredelivery/", {
        "action": "export_csv", "_selected_action": [delivery.pk]})
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    assert text.startswith("id,request,destination") and ",pending," in text
    assert AuditEvent.objects.filter(action="erasure_delivery.export",
                                     actor="user:dora").exists()
    forged = marketer.post("/admin/connectors/erasuredelivery/", {
        "action": "export_csv", "_selected_action": [delivery.pk]})
    assert forged.status_code == 403
