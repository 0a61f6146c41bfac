"""Mailchimp Marketing API v3 (facts: ../shared/docs/connector-apis.md, section 1).

An audience sync is a tag (a static segment) on one Mailchimp audience (list). Members
are upserted 500 per call with `POST /lists/{id}` (keyed by the subscriber hash, MD5 of
the lower-cased email), new ones with `status_if_new: subscribed` and never a `status`,
so someone who unsubscribed in Mailchimp is never re-subscribed by the CDP; joiners get
the tag in the same call. Leaving the segment removes the tag (500 per call), never
unsubscribes. Erasure is `delete-permanent`. Host from the key's data-center suffix.
"""

import hashlib
from collections.abc import Iterator
from typing import Any

from connectors.base import (
    Connector,
    EraseOutcome,
    ItemResult,
    Limits,
    OutMember,
    RemoteMember,
    SentMember,
)
from connectors.http import VendorUnavailable

DEFAULT_BASE_URL = "https://{dc}.api.mailchimp.com/3.0"
# Mailchimp's partial responses (`fields`, any endpoint): the batch answer otherwise
# carries every member's full record (about 700 bytes each) that the engine never reads.
_BATCH_FIELDS = ("new_members.email_address,updated_members.email_address,errors,"
                 "total_created,total_updated,error_count")
PAGE = 1000
# Per-member refusals that resending the same data will not cure.
_TERMINAL = ("looks fake or invalid", "Forgotten Email", "permanently deleted",
             "Invalid Resource", "not a valid", "valid email")
# Anti-abuse refusal: try again much later, not in this run.
_LATER = ("signed up to a lot of lists",)


def subscriber_hash(email: str) -> str:
    return hashlib.md5(email.strip().lower().encode()).hexdigest()  # noqa: S324 - vendor id


def _data_center(api_key: str) -> str:
    if "-" not in api_key:
        raise ValueError("a Mailchimp API key ends with -<data center>, e.g. -us19")
    return api_key.rsplit("-", 1)[1]


def _title(response: Any) -> str:
    try:
        body = response.json()
        return f"{response.status_code} {body.get('title', '')}".strip()
    except ValueError:
        return str(response.status_code)


class MailchimpConnector(Connector):
    kind = "mailchimp"
    # 10 simultaneous connections per key, no per-second quota, 500 members per call.
    limits = Limits(rate_per_s=None, concurrency=10, batch_size=500)

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.list_id = str(self.container["list_id"])
        self.tag = str(self.container.get("tag", ""))  # erasure deliveries need none
        self.segment_id: int | None = None

    @staticmethod
    def base_url(configured: str, credentials: dict[str, str]) -> str:
        template = configured or DEFAULT_BASE_URL
        return template.replace("{dc}", _data_center(credentials["api_key"]))

    @staticmethod
    def client_options(credentials: dict[str, str]) -> dict[str, Any]:
        return {"auth": ("cdp", credentials["api_key"])}  # Basic: any user, key as password

    def prepare(self) -> None:
        """Find the tag's static segment id, creating the tag if it does not exist."""
        offset = 0
        while True:
            page = self.client.request(
                "GET", f"/lists/{self.list_id}/segments", write=False,
                params={"type": "static", "count": PAGE, "offset": offset},
            )
            page.raise_for_status()
            body = page.json()
            for segment in body.get("segments", []):
                if segment.get("name") == self.tag:
                    self.segment_id = int(segment["id"])
                    return
            offset += PAGE
            if offset >= int(body.get("total_items", 0)):
                break
        created = self.client.request("POST", f"/lists/{self.list_id}/segments", write=True,
                                      json={"name": self.tag, "static_segment": []})
        created.raise_for_status()
        self.segment_id = int(created.json()["id"])

    def remote_id(self, member: OutMember) -> str:
        return subscriber_hash(member.email or "")

    def push(self, batch: list[OutMember]) -> list[ItemResult]:
        members = []
        for member in batch:
            item: dict[str, Any] = {"email_address": member.email,
                                    "status_if_new": "subscribed",
                                    "merge_fields": member.fields}
            if member.join:
                item["tags"] = [self.tag]
            members.append(item)
        response = self.client.request("POST", f"/lists/{self.list_id}", write=True,
                                       params={"fields": _BATCH_FIELDS},
                                       json={"members": members, "update_existing": True})
        if response.status_code != 200:
            problem = _title(response)
            return [ItemResult(m.profile_id, False, error=problem, retryable=True)
                    for m in batch]
        body = response.json()
        done = {m["email_address"].lower() for m in
                body.get("new_members", []) + body.get("updated_members", [])}
        refused = {e.get("email_address", "").lower(): e.get("error", "refused")
                   for e in body.get("errors", [])}
        results = []
        for member in batch:
            key = (member.email or "").lower()
            if key in done:
                results.append(ItemResult(member.profile_id, True, self.remote_id(member)))
            else:
                message = refused.get(key, "not confirmed by Mailchimp")
                retryable = key not in refused or any(t in message for t in _LATER) or not any(
                    t in message for t in _TERMINAL)
                # The message quotes the address: keep only what it says about it.
                text = message.replace(member.email or "", "<email>")[:300]
                results.append(ItemResult(member.profile_id, False, error=text,
                                          retryable=retryable))
        return results

    def remove(self, batch: list[SentMember]) -> list[ItemResult]:
        emails = [m.email for m in batch if m.email]
        if emails:
            response = self.client.request(
                "POST", f"/lists/{self.list_id}/segments/{self.segment_id}", write=True,
                json={"members_to_add": [], "members_to_remove": emails},
            )
            if response.status_code != 200:
                problem = _title(response)
                return [ItemResult(m.profile_id, False, error=problem, retryable=True)
                        for m in batch]
        results = []
        for member in batch:
            if member.email:
                # Removed, or not on the audience at all (archived, deleted): out either way.
                results.append(ItemResult(member.profile_id, True, member.remote_id))
                continue
            # No email kept (should not happen): untag by subscriber hash, one call.
            response = self.client.request(
                "POST", f"/lists/{self.list_id}/members/{member.remote_id}/tags", write=True,
                json={"tags": [{"name": self.tag, "status": "inactive"}], "is_syncing": True},
            )
            ok = response.status_code in (204, 404)
            results.append(ItemResult(member.profile_id, ok, member.remote_id,
                                      error="" if ok else _title(response), retryable=not ok))
        return results

    def erase(self, remote_id: str, container: dict[str, Any]) -> EraseOutcome:
        list_id = container.get("list_id", self.list_id)
        try:
            response = self.client.request(
                "POST", f"/lists/{list_id}/members/{remote_id}/actions/delete-permanent",
                write=True,
            )
        except VendorUnavailable as exc:
            return EraseOutcome("failed", str(exc)[:300])
        if response.status_code == 204:
            return EraseOutcome("done", "204 deleted permanently")
        if response.status_code == 404:
            return EraseOutcome("done", "404 not on the audience (already deleted)")
        if response.status_code == 405:
            return EraseOutcome("manual", f"{_title(response)}: ask Mailchimp support")
        return EraseOutcome("failed", _title(response))

    def read_back(self) -> Iterator[RemoteMember]:
        """Every member of the audience with its status and whether it holds the tag.
        Offset paging over a changing list can repeat or skip: callers compare sets."""
        offset = 0
        while True:
            response = self.client.request(
                "GET", f"/lists/{self.list_id}/members", write=False,
                params={"count": PAGE, "offset": offset,
                        "fields": "members.id,members.email_address,members.status,"
                                  "members.merge_fields,members.tags,total_items"},
            )
            response.raise_for_status()
            body = response.json()
            members = body.get("members", [])
            for member in members:
                tags = {t.get("name") for t in member.get("tags", [])}
                yield RemoteMember(
                    remote_id=member.get("id") or subscriber_hash(member["email_address"]),
                    email=member.get("email_address"), status=member.get("status", ""),
                    in_container=self.tag in tags, fields=member.get("merge_fields", {}),
                )
            offset += PAGE
            if not members or offset >= int(body.get("total_items", 0)):
                return
