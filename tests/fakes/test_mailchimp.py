"""Mailchimp fake: the vendor rules the connector doc lists (sections 1 and 5.2)."""

import gzip
import hashlib
import io
import json
import tarfile
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.fakes.mailchimp import MailchimpFake, subscriber_hash

LIST = "a1b2c3d4e5"
MEMBERS = f"/lists/{LIST}/members"


def put(client: httpx.Client, email: str, **fields: object) -> httpx.Response:
    body = {"email_address": email, "status_if_new": "subscribed", **fields}
    return client.put(f"{MEMBERS}/{subscriber_hash(email)}", json=body)


def batch(client: httpx.Client, *members: dict, **options: object) -> dict:
    response = client.post(f"/lists/{LIST}", json={"members": list(members), **options})
    assert response.status_code == 200
    return response.json()


def test_post_member_is_create_only(mailchimp_client: httpx.Client) -> None:
    body = {"email_address": "ada@cdp.test", "status": "subscribed"}
    assert mailchimp_client.post(MEMBERS, json=body).status_code == 200
    again = mailchimp_client.post(MEMBERS, json=body)
    assert (again.status_code, again.json()["title"]) == (400, "Member Exists")


def test_put_with_a_hash_of_the_unlowered_email_is_member_exists(
    mailchimp_client: httpx.Client,
) -> None:
    put(mailchimp_client, "ada@cdp.test")
    wrong_hash = hashlib.md5(
        b"Ada@cdp.test", usedforsecurity=False
    ).hexdigest()  # hashed without lower-casing
    response = mailchimp_client.put(
        f"{MEMBERS}/{wrong_hash}", json={"email_address": "ada@cdp.test", "status": "subscribed"}
    )
    assert (response.status_code, response.json()["title"]) == (400, "Member Exists")


def test_member_path_accepts_hash_or_raw_email(mailchimp_client: httpx.Client) -> None:
    put(mailchimp_client, "ada@cdp.test", merge_fields={"FNAME": "Ada"})
    by_email = mailchimp_client.get(f"{MEMBERS}/ADA@cdp.test").json()
    assert by_email["id"] == subscriber_hash("ada@cdp.test")
    assert by_email["full_name"] == "Ada"
    assert mailchimp_client.get(f"{MEMBERS}/{subscriber_hash('x@cdp.test')}").status_code == 404


def test_update_existing_false_reports_contact_exists(mailchimp_client: httpx.Client) -> None:
    put(mailchimp_client, "ada@cdp.test")
    result = batch(mailchimp_client, {"email_address": "ada@cdp.test", "status": "subscribed"})
    assert result["errors"][0]["error_code"] == "ERROR_CONTACT_EXISTS"


def test_duplicates_in_one_batch_are_errors_unless_skipped(
    mailchimp_client: httpx.Client,
) -> None:
    ada = {"email_address": "ada@cdp.test", "status": "subscribed"}
    assert batch(mailchimp_client, ada, ada)["error_count"] == 1
    response = mailchimp_client.post(
        f"/lists/{LIST}?skip_duplicate_check=true",
        json={"members": [ada, ada], "update_existing": True},
    )
    assert response.json()["error_count"] == 0


def test_batch_answers_keep_only_the_fields_asked_for(mailchimp_client: httpx.Client) -> None:
    """Partial responses: `fields` trims a batch answer (here to the emails and errors)."""
    put(mailchimp_client, "old@cdp.test")
    members = [{"email_address": e, "status_if_new": "subscribed"}
               for e in ("new@cdp.test", "old@cdp.test", "bad@example.com")]
    body = mailchimp_client.post(
        f"/lists/{LIST}",
        params={"fields": "new_members.email_address,updated_members.email_address,errors"},
        json={"members": members, "update_existing": True},
    ).json()
    assert body["new_members"] == [{"email_address": "new@cdp.test"}]
    assert body["updated_members"] == [{"email_address": "old@cdp.test"}]
    assert body["errors"][0]["email_address"] == "bad@example.com"
    assert set(body) == {"new_members", "updated_members", "errors"}
    full = batch(mailchimp_client, {"email_address": "new@cdp.test", "status": "subscribed"},
                 update_existing=True)
    assert {"id", "status", "merge_fields", "tags"} <= set(full["updated_members"][0])


def test_unknown_merge_field_is_invalid_resource(mailchimp_client: httpx.Client) -> None:
    response = put(mailchimp_client, "ada@cdp.test", merge_fields={"NOPE": "x"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "merge_fields.NOPE"
    skipped = mailchimp_client.put(
        f"{MEMBERS}/{subscriber_hash('ada@cdp.test')}?skip_merge_validation=true",
        json={"email_address": "ada@cdp.test", "status": "subscribed", "merge_fields": {"X": 1}},
    )
    assert skipped.status_code == 200


@pytest.mark.parametrize("vendor_status", ["unsubscribed", "cleaned"])
def test_vendor_side_opt_out_is_never_flipped_back(
    mailchimp_fake: MailchimpFake, mailchimp_client: httpx.Client, vendor_status: str
) -> None:
    mailchimp_fake.seed_member("ada@cdp.test")
    mailchimp_fake.set_status("ada@cdp.test", vendor_status)
    result = batch(
        mailchimp_client,
        {"email_address": "ada@cdp.test", "status": "subscribed"},
        update_existing=True,
    )
    assert result["updated_members"][0]["status"] == vendor_status
    assert put(mailchimp_client, "ada@cdp.test", status="subscribed").json()["status"] == (
        vendor_status
    )


def test_resubscribe_policy_error_reports_compliance_state() -> None:
    with (
        MailchimpFake(resubscribe="error") as fake,
        httpx.Client(base_url=fake.base_url, auth=("x", fake.api_key)) as client,
    ):
        fake.seed_member("ada@cdp.test", status="unsubscribed")
        result = batch(
            client, {"email_address": "ada@cdp.test", "status": "subscribed"}, update_existing=True
        )
        assert "compliance state" in result["errors"][0]["error"]
        assert put(client, "ada@cdp.test", status="pending").json()["status"] == "pending"


def test_archive_then_readd(mailchimp_fake: MailchimpFake, mailchimp_client: httpx.Client) -> None:
    put(mailchimp_client, "ada@cdp.test")
    path = f"{MEMBERS}/{subscriber_hash('ada@cdp.test')}"
    assert mailchimp_client.delete(path).status_code == 204
    assert mailchimp_fake.members()["ada@cdp.test"]["status"] == "archived"
    assert mailchimp_client.delete(path).status_code == 404
    assert put(mailchimp_client, "ada@cdp.test").json()["status"] == "subscribed"


def test_permanent_delete_forgets_the_email(
    mailchimp_fake: MailchimpFake, mailchimp_client: httpx.Client
) -> None:
    put(mailchimp_client, "ada@cdp.test")
    path = f"{MEMBERS}/{subscriber_hash('ada@cdp.test')}"
    assert mailchimp_client.post(f"{path}/actions/delete-permanent").status_code == 204
    assert mailchimp_client.get(path).status_code == 404
    readd = put(mailchimp_client, "ada@cdp.test")
    assert (readd.status_code, readd.json()["title"]) == (400, "Forgotten Email Not Subscribed")
    result = batch(mailchimp_client, {"email_address": "ada@cdp.test", "status": "subscribed"})
    assert "permanently deleted" in result["errors"][0]["error"]
    assert mailchimp_fake.forgotten() == {subscriber_hash("ada@cdp.test")}


def test_tags_as_static_segments(
    mailchimp_fake: MailchimpFake, mailchimp_client: httpx.Client
) -> None:
    for email in ("a@cdp.test", "b@cdp.test", "c@cdp.test"):
        put(mailchimp_client, email)
    segment = mailchimp_client.post(
        f"/lists/{LIST}/segments", json={"name": "cdp:vip", "static_segment": ["a@cdp.test"]}
    ).json()
    assert isinstance(segment["id"], int)
    changes = {
        "members_to_add": ["b@cdp.test", "ghost@cdp.test"],
        "members_to_remove": ["a@cdp.test"],
    }
    result = mailchimp_client.post(f"/lists/{LIST}/segments/{segment['id']}", json=changes).json()
    assert (result["total_added"], result["total_removed"]) == (1, 1)
    assert result["errors"] == [
        {"email_addresses": ["ghost@cdp.test"], "error": result["errors"][0]["error"]}
    ]
    assert mailchimp_fake.tag_members("cdp:vip") == {"b@cdp.test"}
    too_many = {"members_to_add": [f"m{i}@cdp.test" for i in range(501)]}
    assert (
        mailchimp_client.post(f"/lists/{LIST}/segments/{segment['id']}", json=too_many).status_code
        == 400
    )
    listed = mailchimp_client.get(f"/lists/{LIST}/segments", params={"type": "static"}).json()
    assert [(s["name"], s["member_count"]) for s in listed["segments"]] == [("cdp:vip", 1)]


def test_member_tags_endpoint_creates_tags_and_answers_204(
    mailchimp_fake: MailchimpFake, mailchimp_client: httpx.Client
) -> None:
    put(mailchimp_client, "a@cdp.test")
    path = f"{MEMBERS}/{subscriber_hash('a@cdp.test')}/tags"
    tags = {"tags": [{"name": "cdp:new", "status": "active"}], "is_syncing": True}
    assert mailchimp_client.post(path, json=tags).status_code == 204
    assert [t["name"] for t in mailchimp_client.get(path).json()["tags"]] == ["cdp:new"]
    tags["tags"][0]["status"] = "inactive"
    mailchimp_client.post(path, json=tags)
    assert mailchimp_fake.tag_members("cdp:new") == set()
    search = mailchimp_client.get(f"/lists/{LIST}/tag-search", params={"name": "new"}).json()
    assert search["total_items"] == 1


def test_tag_members_hide_unsubscribed_unless_asked(
    mailchimp_fake: MailchimpFake, mailchimp_client: httpx.Client
) -> None:
    mailchimp_fake.seed_member("a@cdp.test", tags=["t"])
    mailchimp_fake.seed_member("b@cdp.test", tags=["t"], status="unsubscribed")
    segment_id = mailchimp_client.get(f"/lists/{LIST}/tag-search").json()["tags"][0]["id"]
    path = f"/lists/{LIST}/segments/{segment_id}/members"
    assert mailchimp_client.get(path).json()["total_items"] == 1
    both = mailchimp_client.get(path, params={"include_unsubscribed": "true"}).json()
    assert both["total_items"] == 2


def test_read_back_filters_and_fields() -> None:
    clock = [datetime(2026, 1, 1, tzinfo=UTC)]
    with (
        MailchimpFake(clock=lambda: clock[0]) as fake,
        httpx.Client(base_url=fake.base_url, auth=("x", fake.api_key)) as client,
    ):
        fake.seed_member("old@cdp.test")
        clock[0] += timedelta(days=1)
        fake.seed_member("new@cdp.test", status="unsubscribed")
        since = (clock[0] - timedelta(hours=1)).isoformat()
        recent = client.get(MEMBERS, params={"since_last_changed": since}).json()
        assert [m["email_address"] for m in recent["members"]] == ["new@cdp.test"]
        subscribed = client.get(MEMBERS, params={"status": "subscribed"}).json()
        assert subscribed["total_items"] == 1
        trimmed = client.get(MEMBERS, params={"fields": "members.email_address"}).json()
        assert trimmed == {
            "members": [{"email_address": "old@cdp.test"}, {"email_address": "new@cdp.test"}]
        }


def test_batch_operations_finish_over_polls_with_tar_results(
    mailchimp_fake: MailchimpFake, mailchimp_client: httpx.Client
) -> None:
    operations = [
        {
            "method": "PUT",
            "path": f"/lists/{LIST}/members/{subscriber_hash(email)}",
            "body": json.dumps({"email_address": email, "status_if_new": "subscribed"}),
            "operation_id": email,
        }
        for email in ("a@cdp.test", "bad@example.com")
    ]
    created = mailchimp_client.post("/batches", json={"operations": operations}).json()
    statuses = [created["status"]]
    while statuses[-1] != "finished":
        statuses.append(mailchimp_client.get(f"/batches/{created['id']}").json()["status"])
    assert statuses == ["pending", "preprocessing", "started", "finalizing", "finished"]
    done = mailchimp_client.get(f"/batches/{created['id']}").json()
    assert (done["total_operations"], done["errored_operations"]) == (2, 1)
    archive = httpx.get(done["response_body_url"]).content
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        member = tar.extractfile(tar.getmembers()[0])
        results = json.loads(member.read())
    assert [(r["operation_id"], r["status_code"]) for r in results] == [
        ("a@cdp.test", 200),
        ("bad@example.com", 400),
    ]
    assert gzip.decompress(archive)  # a real gzip stream
    assert set(mailchimp_fake.members()) == {"a@cdp.test"}


def test_too_many_pending_batches_get_429() -> None:
    with (
        MailchimpFake(pending_batch_limit=2) as fake,
        httpx.Client(base_url=fake.base_url, auth=("x", fake.api_key)) as client,
    ):
        statuses = [client.post("/batches", json={"operations": []}).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]


def test_trigger_error_and_malformed_json(mailchimp_client: httpx.Client) -> None:
    triggered = mailchimp_client.get("/ping", headers={"X-Trigger-Error": "ResourceNotFound"})
    assert (triggered.status_code, triggered.json()["title"]) == (404, "Resource Not Found")
    broken = mailchimp_client.post(
        f"/lists/{LIST}", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert (broken.status_code, broken.json()["title"]) == (400, "JSON Parse Error")
    wrong_method = mailchimp_client.delete(f"/lists/{LIST}/members")
    assert wrong_method.status_code == 405
    assert "GET" in wrong_method.headers["allow"]


def test_oauth_bearer_and_metadata() -> None:
    with MailchimpFake(oauth_tokens={"tok-123": "us19"}) as fake:
        metadata = httpx.get(
            f"{fake.url}/oauth2/metadata", headers={"Authorization": "OAuth tok-123"}
        ).json()
        assert metadata["dc"] == "us19"
        ping = httpx.get(
            f"{metadata['api_endpoint']}/3.0/ping", headers={"Authorization": "Bearer tok-123"}
        )
        assert ping.status_code == 200


def test_dc_may_come_from_the_host_header(mailchimp_fake: MailchimpFake) -> None:
    response = httpx.get(
        f"{mailchimp_fake.url}/3.0/ping",
        auth=("x", mailchimp_fake.api_key),
        headers={"Host": "us19.api.mailchimp.com"},
    )
    assert response.status_code == 200


def test_batch_tags_are_added_or_synced(
    mailchimp_fake: MailchimpFake, mailchimp_client: httpx.Client
) -> None:
    ada = {"email_address": "ada@cdp.test", "status": "subscribed", "tags": ["a", "b"]}
    batch(mailchimp_client, ada)
    batch(mailchimp_client, {**ada, "tags": ["c"]}, update_existing=True)
    assert mailchimp_fake.state()[LIST]["members"]["ada@cdp.test"]["tags"] == ["a", "b", "c"]
    batch(mailchimp_client, {**ada, "tags": ["c"]}, update_existing=True, sync_tags=True)
    assert mailchimp_fake.state()[LIST]["members"]["ada@cdp.test"]["tags"] == ["c"]


def test_patch_updates_only_existing_members(mailchimp_client: httpx.Client) -> None:
    path = f"{MEMBERS}/{subscriber_hash('ada@cdp.test')}"
    assert mailchimp_client.patch(path, json={"merge_fields": {"FNAME": "A"}}).status_code == 404
    put(mailchimp_client, "ada@cdp.test")
    patched = mailchimp_client.patch(path, json={"merge_fields": {"FNAME": "A"}})
    assert patched.json()["merge_fields"] == {"FNAME": "A"}
