"""In-memory HubSpot portal: contacts, lists and the GDPR blocklist, with the vendor's rules.

No HTTP here: route modules turn `PortalError` into HubSpot's error body (whole request)
or into a multi-status `errors[]` item (batch upsert with trace ids). Rules follow the
connector doc, section 2: record ids are numeric strings assigned in order, emails are
stored lower-cased and unique among live contacts, property values are strings (an empty
string clears), unknown and read-only properties are refused, archived contacts are
hidden but kept, a GDPR delete removes the contact and its list memberships and
blocklists the address. Lists are MANUAL, SNAPSHOT or DYNAMIC; only the first two take
membership writes, by record id.
Our choices where the vendor is unconfirmed: email validity is a syntax check plus a
list of rejected domains (`example.com` ...) so tests can provoke per-item errors; list
names are unique and looked up case-insensitively; an upsert of an email that belongs to
an archived contact creates a new contact; a blocklisted email is refused with
VALIDATION_ERROR / `BLOCKLISTED_EMAIL`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

CONTACT_TYPE = "0-1"
REJECTED_DOMAINS = frozenset({"example.com", "example.net", "example.org"})
SYSTEM_PROPERTIES = ("hs_object_id", "createdate", "lastmodifieddate")
DEFAULT_READ = ("email", "firstname", "lastname")
# hs_email_optout: "true" once the person unsubscribed from all email (set by HubSpot).
READ_ONLY = frozenset({*SYSTEM_PROPERTIES, "hs_email_optout"})
DEFAULT_PROPERTIES = frozenset({
    "email", "firstname", "lastname", "phone", "mobilephone", "company", "jobtitle",
    "website", "address", "city", "state", "zip", "country", "date_of_birth",
    "lifecyclestage", *READ_ONLY,
})
LIST_TYPES = ("MANUAL", "SNAPSHOT", "DYNAMIC")
_EMAIL = re.compile(r"[^@\s\"(),:;<>\[\\\]]+@([A-Za-z0-9-]+\.)+[A-Za-z]{2,}")


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class PortalError(Exception):
    """A refusal: the whole request's error body, or one item of a multi-status answer."""

    def __init__(
        self,
        status: int,
        category: str,
        message: str,
        *,
        context: dict[str, list[str]] | None = None,
        sub_category: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.category, self.message = status, category, message
        self.context = context or {}
        self.sub_category = sub_category


def property_problem(name: str, code: str, message: str) -> dict[str, Any]:
    return {"isValid": False, "message": message, "error": code, "name": name,
            "localizedErrorMessage": message}


def invalid_properties(problems: list[dict[str, Any]]) -> PortalError:
    """HubSpot's one VALIDATION_ERROR for bad property values (the JSON list is quoted)."""
    text = json.dumps(problems, separators=(",", ":"))
    return PortalError(400, "VALIDATION_ERROR", f"Property values were not valid: {text}")


@dataclass
class Contact:
    id: int
    properties: dict[str, str]
    created_at: str
    updated_at: str
    archived: bool = False
    archived_at: str = ""

    @property
    def email(self) -> str:
        return self.properties.get("email", "")

    def render(self, requested: Iterable[str] | None = None) -> dict[str, Any]:
        """The API's object: requested properties (unset ones as null) + system ones."""
        names = list(requested) if requested is not None else list(DEFAULT_READ)
        props: dict[str, Any] = {name: self.properties.get(name) for name in names}
        props.update(hs_object_id=str(self.id), createdate=self.created_at,
                     lastmodifieddate=self.updated_at)
        out: dict[str, Any] = {"id": str(self.id), "properties": props,
                               "createdAt": self.created_at, "updatedAt": self.updated_at,
                               "archived": self.archived}
        if self.archived:
            out["archivedAt"] = self.archived_at
        return out


@dataclass
class HsList:
    id: int
    name: str
    processing_type: str
    object_type_id: str
    created_at: str
    updated_at: str
    members: dict[int, str] = field(default_factory=dict)  # record id -> joined at
    version: int = 1

    @property
    def writable(self) -> bool:
        return self.processing_type in ("MANUAL", "SNAPSHOT")


@dataclass
class Portal:
    """One HubSpot account; callers hold the fake's state lock."""

    properties: frozenset[str] = DEFAULT_PROPERTIES
    rejected_domains: frozenset[str] = REJECTED_DOMAINS
    clock: Callable[[], datetime] = utc_now
    contacts: dict[int, Contact] = field(default_factory=dict)
    by_email: dict[str, int] = field(default_factory=dict)  # live contacts only
    lists: dict[int, HsList] = field(default_factory=dict)
    blocklist: set[str] = field(default_factory=set)  # emails deleted under GDPR
    _next_contact: int = 100
    _next_list: int = 0

    def now(self) -> str:
        return iso(self.clock())

    # -- contacts -----------------------------------------------------------------------
    def live(self, record_id: int) -> Contact | None:
        contact = self.contacts.get(record_id)
        return contact if contact is not None and not contact.archived else None

    def find_email(self, email: str) -> Contact | None:
        record_id = self.by_email.get(email.strip().lower())
        return self.contacts.get(record_id) if record_id is not None else None

    def problems(self, email: str, properties: Any, *, system: bool = False) -> list[dict]:
        """What is wrong with this input, as HubSpot's per-property problems."""
        if not isinstance(properties, dict):
            return [property_problem("properties", "INVALID_PROPERTIES",
                                     "properties must be an object of name -> value")]
        found = []
        if not _EMAIL.fullmatch(email) or email.rsplit("@", 1)[1] in self.rejected_domains:
            found.append(property_problem("email", "INVALID_EMAIL",
                                          f"Email address {email} is invalid"))
        elif email in self.blocklist:
            found.append(property_problem(
                "email", "BLOCKLISTED_EMAIL",
                f"Email address {email} was deleted under GDPR and cannot be used again"))
        for name, value in properties.items():
            if name not in self.properties:
                found.append(property_problem(name, "PROPERTY_DOESNT_EXIST",
                                              f'Property "{name}" does not exist'))
            elif name in READ_ONLY and not system:
                found.append(property_problem(name, "READ_ONLY_VALUE",
                                              f'"{name}" is a read only property; its value '
                                              "cannot be set."))
            elif isinstance(value, dict | list):
                found.append(property_problem(name, "INVALID_PROPERTY_VALUE",
                                              f"{value!r} is not a valid value for {name}"))
        return found

    def upsert(self, email: str, properties: dict[str, Any]) -> tuple[Contact, bool]:
        """Create or update by (lower-cased) email; the input was validated before."""
        email = email.strip().lower()
        values = {k: _text(v) for k, v in properties.items() if k != "email"}
        now = self.now()
        contact = self.find_email(email)
        if contact is None:
            self._next_contact += 1
            contact = Contact(self._next_contact, {"email": email}, now, now)
            contact.properties.update({k: v for k, v in values.items() if v != ""})
            self.contacts[contact.id] = contact
            self.by_email[email] = contact.id
            return contact, True
        before = dict(contact.properties)
        for name, value in values.items():
            if value == "":
                contact.properties.pop(name, None)  # an empty string clears
            else:
                contact.properties[name] = value
        if contact.properties != before:
            contact.updated_at = now
        return contact, False

    def set_property(self, contact: Contact, name: str, value: str) -> None:
        """A change made inside HubSpot (UI, workflow, the person unsubscribing)."""
        contact.properties[name] = value
        contact.updated_at = self.now()

    def archive(self, contact: Contact) -> None:
        if contact.archived:
            return
        contact.archived, contact.archived_at = True, self.now()
        self.by_email.pop(contact.email, None)

    def restore(self, contact: Contact) -> None:
        if contact.archived and contact.email not in self.by_email:
            contact.archived, contact.archived_at = False, ""
            self.by_email[contact.email] = contact.id

    def gdpr_delete(self, *, contact: Contact | None, email: str | None = None) -> None:
        """Gone for good with its memberships; the address can never be used again."""
        if contact is not None:
            email = contact.email
            del self.contacts[contact.id]
            if self.by_email.get(contact.email) == contact.id:
                del self.by_email[contact.email]
            for hs_list in self.lists.values():
                hs_list.members.pop(contact.id, None)
        if email:
            self.blocklist.add(email.strip().lower())

    # -- lists --------------------------------------------------------------------------
    def list_by_name(self, name: str, object_type_id: str = CONTACT_TYPE) -> HsList | None:
        wanted = name.strip().lower()
        return next((x for x in self.lists.values()
                     if x.name.lower() == wanted and x.object_type_id == object_type_id), None)

    def list_create(self, name: Any, processing_type: Any, object_type_id: Any) -> HsList:
        if not isinstance(name, str) or not name.strip():
            raise PortalError(400, "VALIDATION_ERROR", "name is required")
        if processing_type not in LIST_TYPES:
            raise PortalError(400, "VALIDATION_ERROR",
                              f"processingType must be one of {', '.join(LIST_TYPES)}")
        if not isinstance(object_type_id, str) or not object_type_id:
            raise PortalError(400, "VALIDATION_ERROR", "objectTypeId is required")
        if any(x.name.lower() == name.strip().lower() for x in self.lists.values()):
            raise PortalError(400, "VALIDATION_ERROR",
                              f"A list named '{name}' already exists.",
                              sub_category="ILS.DUPLICATE_LIST_NAMES")
        self._next_list += 1
        now = self.now()
        hs_list = HsList(self._next_list, name.strip(), processing_type, object_type_id,
                         now, now)
        self.lists[hs_list.id] = hs_list
        return hs_list

    def members(self, hs_list: HsList) -> list[int]:
        """Record ids in the list, ascending (archived contacts hidden)."""
        return sorted(i for i in hs_list.members if self.live(i) is not None)

    def members_change(self, hs_list: HsList, add: list[int], remove: list[int]
                       ) -> tuple[list[int], list[int], list[int]]:
        """(added, removed, missing): unknown ids are missing; repeats are ignored."""
        added, removed, missing = [], [], []
        now = self.now()
        for record_id in dict.fromkeys(add):
            if self.live(record_id) is None:
                missing.append(record_id)
            elif record_id not in hs_list.members:
                hs_list.members[record_id] = now
                added.append(record_id)
        for record_id in dict.fromkeys(remove):
            if self.live(record_id) is None:
                missing.append(record_id)
            elif hs_list.members.pop(record_id, None) is not None:
                removed.append(record_id)
        if added or removed:
            hs_list.updated_at = now
            hs_list.version += 1
        return added, removed, missing


def _text(value: Any) -> str:
    """HubSpot keeps every property value as a string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
