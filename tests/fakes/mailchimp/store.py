"""In-memory Mailchimp audiences: members, tags and forgotten emails, with the vendor's rules.

No HTTP here: the server module turns `MemberError` into problem+json (single calls) or
per-item `errors[]` entries (batch calls). Rules follow the connector doc, section 1:
members keyed by md5(lower(email)), `status_if_new` on create and `status` on update,
"Member Exists", "Forgotten Email Not Subscribed", unsubscribed never flipped back to
subscribed, cleaned stays cleaned, archive versus permanent delete, tags as static segments.
Simplified: interests, marketing permissions, stats and location are stored or faked, not
modelled; email validity is a syntax check plus a list of rejected domains.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

STATUSES = frozenset({"subscribed", "unsubscribed", "cleaned", "pending", "transactional"})
REJECTED_DOMAINS = frozenset({"example.com", "example.net", "example.org"})
MEMBER_FIELDS = ("language", "vip", "email_type", "ip_opt", "timestamp_opt", "ip_signup")
_EMAIL = re.compile(r"[^@\s\"(),:;<>\[\\\]]+@([A-Za-z0-9-]+\.)+[A-Za-z]{2,}")


@functools.lru_cache(maxsize=1 << 18)  # the fake asks it several times a member and call
def subscriber_hash(email: str) -> str:
    """Mailchimp's member id: the MD5 of the lower-cased address (not a security use)."""
    return hashlib.md5(email.lower().encode(), usedforsecurity=False).hexdigest()


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")  # 2026-01-31T12:00:00+00:00


class MemberError(Exception):
    """A refusal of one member: a 400 on single calls, an `errors[]` item in batches."""

    def __init__(
        self,
        title: str,
        detail: str,
        *,
        status: int = 400,
        error_code: str = "ERROR_GENERIC",
        field: str = "",
        errors: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__(detail)
        self.title, self.detail, self.status = title, detail, status
        self.error_code, self.field, self.errors = error_code, field, errors or []


def member_exists(email: str) -> MemberError:
    return MemberError(
        "Member Exists",
        f"{email} is already a list member. Use PUT to insert or update list members.",
        error_code="ERROR_CONTACT_EXISTS",
        field="email_address",
    )


@dataclass
class Member:
    email_address: str
    status: str
    web_id: int
    merge_fields: dict[str, Any] = field(default_factory=dict)
    interests: dict[str, bool] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # MEMBER_FIELDS sent by the client
    tags: set[int] = field(default_factory=set)  # ids of static segments
    timestamp_signup: str = ""
    last_changed: str = ""

    @property
    def id(self) -> str:
        return subscriber_hash(self.email_address)


@dataclass
class Segment:
    id: int
    name: str
    created_at: str
    updated_at: str
    type: str = "static"


@dataclass
class Audience:
    """One Mailchimp list and its rules; callers hold the server's state lock."""

    id: str
    name: str
    merge_fields: frozenset[str]
    required_merge_fields: frozenset[str]
    account: Account
    members: dict[str, Member] = field(default_factory=dict)  # by subscriber hash
    segments: dict[int, Segment] = field(default_factory=dict)
    forgotten: set[str] = field(default_factory=set)  # hashes of permanently deleted emails
    contacts: dict[str, str] = field(default_factory=dict)  # contact id -> subscriber hash

    # -- lookups --------------------------------------------------------------------
    def find(self, key: str) -> Member | None:
        """Path keys may be the hash, the raw email or the contact id."""
        if "@" in key:
            key = subscriber_hash(key)
        key = key.lower()
        return self.members.get(key) or self.members.get(self.contacts.get(key, ""))

    def active(self) -> list[Member]:
        """Members on the audience (archived ones have left it)."""
        return [m for m in self.members.values() if m.status != "archived"]

    def segment_by_name(self, name: str) -> Segment | None:
        return next((s for s in self.segments.values() if s.name == name), None)

    def segment_members(self, segment_id: int) -> list[Member]:
        return [m for m in self.active() if segment_id in m.tags]

    # -- writes ---------------------------------------------------------------------
    def upsert(
        self,
        data: dict[str, Any],
        *,
        path_key: str | None = None,
        create: bool = True,
        update: bool = True,
        skip_merge_validation: bool = False,
    ) -> tuple[Member, bool]:
        """Create or update one member; returns it and whether it was (re-)added."""
        email = data.get("email_address")
        if email is not None and not isinstance(email, str):
            raise invalid("email_address", "Please provide a valid email address.")
        holder = self.members.get(subscriber_hash(email)) if email else None
        current = self.find(path_key) if path_key else holder
        if email and current is not holder:  # the path names someone else than the body
            if holder is not None and holder.status != "archived":
                raise member_exists(email)  # also the trap of a hash computed without lower()
            if current is not None and current.status != "archived":
                self._rename(current, email)  # PUT/PATCH may change the address
            else:
                current = holder
        if current is None or current.status == "archived":
            if not create:
                raise not_on_list()
            if not email:
                raise invalid("email_address", "This value should not be blank.")
            return self._create(data, email, current, skip_merge_validation), True
        if not update:
            raise member_exists(current.email_address)
        self._update(current, data, skip_merge_validation)
        return current, False

    def archive(self, member: Member) -> None:
        member.status = "archived"
        member.last_changed = iso(self.account.clock())

    def delete_permanent(self, member: Member) -> None:
        del self.members[member.id]
        self.contacts.pop(contact_id(member), None)
        self.forgotten.add(member.id)

    def set_status(self, member: Member, status: str) -> None:
        """A change made on the vendor side (the person unsubscribed, the address bounced)."""
        member.status = status
        member.last_changed = iso(self.account.clock())

    def tag(self, member: Member, name: str, *, active: bool) -> None:
        segment = self.segment_by_name(name)
        if segment is None:
            if not active:
                return
            segment = self.segment_create(name)
        if active != (segment.id in member.tags):
            if active:
                member.tags.add(segment.id)
            else:
                member.tags.discard(segment.id)
            member.last_changed = segment.updated_at = iso(self.account.clock())

    def segment_create(self, name: str) -> Segment:
        if not name or not isinstance(name, str):
            raise invalid("name", "This value should not be blank.")
        if self.segment_by_name(name) is not None:
            raise MemberError("Invalid Resource", "Sorry, that tag already exists.")
        now = iso(self.account.clock())
        segment = Segment(self.account.next_segment_id(), name, now, now)
        self.segments[segment.id] = segment
        return segment

    # -- internals ------------------------------------------------------------------
    def _create(
        self, data: dict[str, Any], email: str, archived: Member | None, skip: bool
    ) -> Member:
        if subscriber_hash(email) in self.forgotten:
            raise MemberError(
                "Forgotten Email Not Subscribed",
                f"{email} was permanently deleted and cannot be re-imported. "
                "The contact must re-subscribe to get back on the list.",
            )
        check_email(email, self.account.rejected_domains)
        status = data.get("status_if_new") or data.get("status")
        if status not in STATUSES:
            raise invalid("status", "Please provide a valid status (subscribed, unsubscribed, …).")
        merge = self._merge_fields(data, {}, skip, creating=True)
        now = iso(self.account.clock())
        member = archived or Member(email, status, self.account.next_web_id())
        member.email_address, member.status, member.merge_fields = email, status, merge
        member.interests.update(data.get("interests") or {})
        member.extra.update({k: data[k] for k in MEMBER_FIELDS if k in data})
        member.timestamp_signup = member.timestamp_signup or now
        member.last_changed = now
        self.members[member.id] = member
        self.contacts[contact_id(member)] = member.id
        return member

    def _update(self, member: Member, data: dict[str, Any], skip: bool) -> None:
        before = (member.status, dict(member.merge_fields), dict(member.extra))
        status = data.get("status")
        if status is not None:
            if status not in STATUSES:
                raise invalid("status", "Please provide a valid status.")
            member.status = self.account.transition(member, status)
        member.merge_fields = self._merge_fields(data, member.merge_fields, skip)
        member.interests.update(data.get("interests") or {})
        member.extra.update({k: data[k] for k in MEMBER_FIELDS if k in data})
        if (member.status, member.merge_fields, member.extra) != before:
            member.last_changed = iso(self.account.clock())

    def _merge_fields(
        self, data: dict[str, Any], current: dict[str, Any], skip: bool, *, creating: bool = False
    ) -> dict[str, Any]:
        sent = data.get("merge_fields") or {}
        if not isinstance(sent, dict):
            raise invalid("merge_fields", "Schema describes object, array found instead")
        merged = {**current, **sent}
        if skip:
            return merged
        errors = [
            {"field": f"merge_fields.{key}", "message": "This merge field does not exist."}
            for key in sent
            if key not in self.merge_fields
        ]
        if creating:
            errors += [
                {"field": f"merge_fields.{key}", "message": "Please enter a value"}
                for key in sorted(self.required_merge_fields)
                if not merged.get(key)
            ]
        if errors:
            raise MemberError(
                "Invalid Resource",
                "Your merge fields were invalid.",
                field=errors[0]["field"],
                errors=errors,
            )
        return merged

    def _rename(self, member: Member, email: str) -> None:
        check_email(email, self.account.rejected_domains)
        del self.members[member.id]
        self.contacts.pop(contact_id(member), None)
        member.email_address = email
        self.members[member.id] = member
        self.contacts[contact_id(member)] = member.id


@dataclass
class Account:
    """Everything one Mailchimp user owns, plus the knobs of the vendor rules."""

    rejected_domains: frozenset[str] = REJECTED_DOMAINS
    resubscribe: str = "ignore"  # unsubscribed/cleaned -> subscribed: ignore | error | allow
    clock: Callable[[], datetime] = utc_now
    audiences: dict[str, Audience] = field(default_factory=dict)
    _web_id: int = 0
    _segment_id: int = 10000

    def next_web_id(self) -> int:
        self._web_id += 1
        return self._web_id

    def next_segment_id(self) -> int:
        self._segment_id += 1
        return self._segment_id

    def transition(self, member: Member, status: str) -> str:
        """The status an update really leaves: a person's unsubscribe or a bounce sticks."""
        blocked = member.status in ("unsubscribed", "cleaned") and status != member.status
        if member.status == "unsubscribed" and status in ("pending", "transactional"):
            blocked = False  # double opt-in asks the person again
        if not blocked or self.resubscribe == "allow":
            return status
        if self.resubscribe == "error":
            raise MemberError(
                "Member In Compliance State",
                f"{member.email_address} is in a compliance state due to unsubscribe, bounce, "
                "or compliance review and cannot be subscribed.",
            )
        return member.status


def contact_id(member: Member) -> str:
    return _contact_hash(member.id)


@functools.lru_cache(maxsize=1 << 18)
def _contact_hash(member_id: str) -> str:
    return hashlib.md5(f"contact:{member_id}".encode(), usedforsecurity=False).hexdigest()


def unique_email_id(member: Member) -> str:
    return member.id[:10]


def invalid(field_name: str, message: str) -> MemberError:
    return MemberError(
        "Invalid Resource",
        "The resource submitted could not be validated. "
        "For field-specific details, see the 'errors' array.",
        field=field_name,
        errors=[{"field": field_name, "message": message}],
    )


def not_on_list() -> MemberError:
    return MemberError(
        "Resource Not Found", "The requested resource could not be found.", status=404
    )


def check_email(email: str, rejected_domains: frozenset[str]) -> None:
    if not _EMAIL.fullmatch(email):
        raise MemberError(
            "Invalid Resource", "Please provide a valid email address.", field="email_address"
        )
    if email.rsplit("@", 1)[1].lower() in rejected_domains:
        raise MemberError(
            "Invalid Resource",
            f"{email} looks fake or invalid, please enter a real email address.",
            field="email_address",
        )
