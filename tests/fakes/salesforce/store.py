"""In-memory Salesforce org: records of every sObject type and the platform's record rules.

No HTTP here: routes turn `RecordError` into the vendor's per-record errors (collections,
Bulk results) or a 400 array (single-record calls). Rules (connector doc 3.3-3.7):
required fields (`REQUIRED_FIELD_MISSING`), email validation (`INVALID_EMAIL_ADDRESS`,
plus a configurable list of rejected domains so every fake refuses example.com alike),
lengths (`STRING_TOO_LONG`), unique external ids (`DUPLICATE_VALUE`), upsert by an
External ID or idLookup field (several matches: `MultipleMatches`), references to live
records (`ENTITY_IS_DELETED`, `INVALID_CROSS_REFERENCE_KEY`), one CampaignMember per
(campaign, person) ("Already a campaign member."), member statuses per campaign, delete to
the Recycle Bin (`IsDeleted`) with the person's CampaignMembers, hard delete.
Simplified: no triggers, duplicate rules, sharing or undelete; string comparisons of
external ids are exact unless the fake is built case-insensitive.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from tests.fakes.salesforce.schema import Field, SObjectType, looks_like_id, make_id, same_id

REJECTED_DOMAINS = frozenset({"example.com", "example.net", "example.org"})
DEFAULT_MEMBER_STATUSES = ("Sent", "Responded")
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@([A-Za-z0-9-]+\.)+[A-Za-z]{2,}")


def utc_now() -> datetime:
    return datetime.now(UTC)


def sf_datetime(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


class RecordError(Exception):
    """One record refused: `statusCode`, message and the fields at fault."""

    def __init__(self, code: str, message: str, fields: list[str] | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.fields = code, message, fields or []

    def as_item(self) -> dict[str, Any]:
        """The shape inside a collection result (`statusCode`, not `errorCode`)."""
        return {"statusCode": self.code, "message": self.message, "fields": self.fields}

    def as_body(self) -> list[dict[str, Any]]:
        """The shape of a single-record error response."""
        return [{"message": self.message, "errorCode": self.code, "fields": self.fields}]

    def as_csv(self) -> str:
        """The `sf__Error` column of Bulk API 2.0 failed results."""
        return f"{self.code}:{self.message}:{','.join(self.fields)} --"


class MultipleMatches(Exception):  # noqa: N818 - named after the vendor's 300 answer
    def __init__(self, records: list[Record]) -> None:
        super().__init__(len(records))
        self.records = records


@dataclass
class Record:
    id: str
    type: str
    values: dict[str, Any]
    deleted: bool = False

    def get(self, name: str) -> Any:
        if name == "Id":
            return self.id
        if name == "IsDeleted":
            return self.deleted
        return self.values.get(name)


@dataclass
class Org:
    """All records of one org; callers hold the server's state lock."""

    types: dict[str, SObjectType]
    rejected_domains: frozenset[str] = REJECTED_DOMAINS
    case_insensitive_external_ids: bool = False
    clock: Callable[[], datetime] = utc_now
    records: dict[str, Record] = field(default_factory=dict)  # by 18-char id
    member_statuses: dict[str, tuple[str, ...]] = field(default_factory=dict)  # campaign id
    _counters: dict[str, int] = field(default_factory=dict)
    # Live records by (type, lookup field, normalized value), and CampaignMember ids by
    # the person or campaign they link: the org's indexes, so big orgs stay fast.
    _keys: dict[tuple[str, str, str], set[str]] = field(default_factory=dict)
    _links: dict[str, set[str]] = field(default_factory=dict)

    # -- snapshots (allOrNone, composite rollback) -------------------------------------
    def snapshot(self) -> tuple[dict[str, Record], dict[str, tuple[str, ...]], dict[str, int]]:
        return copy.deepcopy((self.records, self.member_statuses, self._counters))

    def restore(self, saved: tuple) -> None:
        self.records, self.member_statuses, self._counters = saved
        self._keys, self._links = {}, {}
        for record in self.records.values():
            self._index(record)

    def _lookup_key(self, sobject: SObjectType, f: Field, value: Any) -> tuple[str, str, str]:
        ci = self.case_insensitive_external_ids or f.kind == "email"
        return sobject.name, f.name, str(value).lower() if ci else str(value)

    def _index(self, record: Record) -> None:
        if record.deleted:
            return
        sobject = self.types[record.type]
        for f in sobject.fields.values():
            value = record.values.get(f.name)
            if (f.external_id or f.id_lookup) and f.name != "Id" and value not in (None, ""):
                self._keys.setdefault(self._lookup_key(sobject, f, value), set()).add(record.id)
        if record.type == "CampaignMember":
            for link in ("CampaignId", "ContactId", "LeadId"):
                if record.values.get(link):
                    self._links.setdefault(record.values[link], set()).add(record.id)

    def _unindex(self, record: Record) -> None:
        sobject = self.types[record.type]
        for f in sobject.fields.values():
            value = record.values.get(f.name)
            if (f.external_id or f.id_lookup) and f.name != "Id" and value not in (None, ""):
                self._keys.get(self._lookup_key(sobject, f, value), set()).discard(record.id)
        if record.type == "CampaignMember":
            for link in ("CampaignId", "ContactId", "LeadId"):
                self._links.get(record.values.get(link) or "", set()).discard(record.id)

    def members_of(self, linked_id: str) -> list[Record]:
        """Live CampaignMembers of a campaign, a contact or a lead."""
        return [self.records[i] for i in sorted(self._links.get(linked_id, ()))]

    # -- lookups ----------------------------------------------------------------------
    def type(self, name: str) -> SObjectType | None:
        return next((t for n, t in self.types.items() if n.lower() == name.lower()), None)

    def get(self, record_id: str, *, include_deleted: bool = False) -> Record | None:
        if not isinstance(record_id, str):
            return None
        record = self.records.get(record_id)
        if record is None and len(record_id) == 15:
            record = next((r for k, r in self.records.items() if same_id(k, record_id)), None)
        if record is None or (record.deleted and not include_deleted):
            return None
        return record

    def all(self, type_name: str, *, include_deleted: bool = False) -> list[Record]:
        return [r for r in self.records.values()
                if r.type == type_name and (include_deleted or not r.deleted)]

    def match(self, sobject: SObjectType, key: Field, value: Any) -> list[Record]:
        """Live records whose `key` equals `value` (the upsert lookup)."""
        if key.name == "Id":
            found = self.get(str(value))
            return [found] if found is not None and found.type == sobject.name else []
        if not (key.external_id or key.id_lookup):
            return [r for r in self.all(sobject.name) if r.values.get(key.name) == value]
        ids = self._keys.get(self._lookup_key(sobject, key, value), set())
        return [self.records[i] for i in sorted(ids)]

    # -- writes -----------------------------------------------------------------------
    def create(self, sobject: SObjectType, values: dict[str, Any]) -> Record:
        clean = self._validate(sobject, values, None)
        for f in sobject.fields.values():
            if f.default is not None and f.writable and clean.get(f.name) is None:
                clean[f.name] = f.default
        if sobject.name == "CampaignMember":
            self._check_membership(clean)
        number = self._counters.get(sobject.prefix, 0) + 1
        self._counters[sobject.prefix] = number
        now = sf_datetime(self.clock())
        clean.update(CreatedDate=now, LastModifiedDate=now, SystemModstamp=now)
        record = Record(make_id(sobject.prefix, number), sobject.name, clean)
        self.records[record.id] = record
        self._index(record)
        if sobject.name == "Campaign":
            self.member_statuses[record.id] = DEFAULT_MEMBER_STATUSES
        return record

    def update(self, sobject: SObjectType, record: Record, values: dict[str, Any]) -> None:
        clean = self._validate(sobject, values, record)
        changed = {k: v for k, v in clean.items() if record.values.get(k) != v}
        if changed:
            self._unindex(record)
            record.values.update(changed)
            self._index(record)
            record.values["LastModifiedDate"] = record.values["SystemModstamp"] = sf_datetime(
                self.clock())

    def upsert(
        self, sobject: SObjectType, key: Field, value: Any, values: dict[str, Any]
    ) -> tuple[Record, bool]:
        """Update the one live record whose key is `value`, or create it: (record, created)."""
        if value in (None, ""):
            raise RecordError("MISSING_ARGUMENT", f"{key.name} not specified", [key.name])
        found = self.match(sobject, key, value)
        if len(found) > 1:
            raise MultipleMatches(found)
        body = {k: v for k, v in values.items() if k.lower() not in ("attributes", "id")}
        if found:
            self.update(sobject, found[0], body)
            return found[0], False
        if key.name == "Id":
            raise RecordError("NOT_FOUND", "Provided external ID field does not exist or is "
                                           "not accessible: " + str(value))
        return self.create(sobject, {**body, key.name: value}), True

    def delete(self, record: Record, *, hard: bool = False) -> None:
        """Delete to the Recycle Bin (or for good); a person's CampaignMembers go too."""
        for member in self.members_of(record.id):
            self.delete(member, hard=hard)
        self._unindex(record)
        if hard:
            self.records.pop(record.id, None)
        else:
            record.deleted = True
            record.values["SystemModstamp"] = sf_datetime(self.clock())

    # -- rules ------------------------------------------------------------------------
    def _validate(
        self, sobject: SObjectType, values: dict[str, Any], record: Record | None
    ) -> dict[str, Any]:
        clean: dict[str, Any] = {}
        read_only = []
        for name, value in values.items():
            f = sobject.field(name)
            if f is None:
                raise RecordError("INVALID_FIELD",
                                  f"No such column '{name}' on sobject of type {sobject.name}")
            if not f.writable:
                read_only.append(f.name)
                continue
            clean[f.name] = self._coerce(f, value)
        if read_only:
            raise RecordError(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {', '.join(read_only)}. Please check the "
                "security settings of this field and verify that it is read/write for your "
                "profile or permission set.", read_only)
        current = dict(record.values) if record else {}
        merged = {**current, **clean}
        missing = [f.name for f in sobject.fields.values()
                   if f.required and merged.get(f.name) in (None, "")]
        if missing:
            raise RecordError("REQUIRED_FIELD_MISSING",
                              f"Required fields are missing: [{', '.join(missing)}]", missing)
        for name, value in clean.items():
            f = sobject.fields[name]
            if f.unique and value is not None:
                self._check_unique(sobject, f, value, record)
            if f.kind == "reference" and value is not None:
                self._check_reference(f, value)
        return clean

    def _coerce(self, f: Field, value: Any) -> Any:
        if value is None:
            return None
        label = f.name
        if f.kind == "boolean":
            if not isinstance(value, bool):
                raise RecordError("INVALID_TYPE_ON_FIELD_IN_RECORD",
                                  f"{label}: value not of required type: {value}", [f.name])
            return value
        if f.kind == "double":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise RecordError("INVALID_TYPE_ON_FIELD_IN_RECORD",
                                  f"{label}: value not of required type: {value}", [f.name])
            return value
        if f.kind == "date":
            try:
                return date.fromisoformat(str(value)[:10]).isoformat()
            except ValueError:
                raise RecordError("INVALID_TYPE_ON_FIELD_IN_RECORD",
                                  f"{label}: value not of required type: {value}",
                                  [f.name]) from None
        text = value if isinstance(value, str) else str(value)
        if len(text) > f.length:
            raise RecordError("STRING_TOO_LONG",
                              f"{label}: data value too large: {text[:40]} (max length="
                              f"{f.length})", [f.name])
        if f.kind == "email" and text:
            domain = text.rsplit("@", 1)[-1].lower()
            if not _EMAIL.fullmatch(text) or domain in self.rejected_domains:
                raise RecordError("INVALID_EMAIL_ADDRESS",
                                  f"{label}: invalid email address: {text}", [f.name])
        return text

    def _check_unique(self, sobject: SObjectType, f: Field, value: Any, record: Record | None):
        for other in self.match(sobject, f, value):
            if record is None or other.id != record.id:
                raise RecordError(
                    "DUPLICATE_VALUE",
                    f"duplicate value found: {f.name} duplicates value on record with id: "
                    f"{other.id}", [f.name])

    def _check_reference(self, f: Field, value: Any) -> None:
        if not looks_like_id(value):
            raise RecordError("MALFORMED_ID", f"{f.name}: id value of incorrect type: {value}",
                              [f.name])
        target = self.get(value, include_deleted=True)
        if target is None or target.type != f.reference_to:
            raise RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id",
                              [f.name])
        if target.deleted:
            raise RecordError("ENTITY_IS_DELETED", "entity is deleted", [f.name])

    def _check_membership(self, values: dict[str, Any]) -> None:
        person = [n for n in ("ContactId", "LeadId") if values.get(n)]
        if len(person) != 1:
            raise RecordError("REQUIRED_FIELD_MISSING",
                              "Required fields are missing: [ContactId, LeadId]",
                              ["ContactId", "LeadId"])
        campaign = self.get(values["CampaignId"])
        who = self.get(values[person[0]])
        campaign_id, who_id = campaign.id, who.id  # references were checked just before
        statuses = self.member_statuses.get(campaign_id, DEFAULT_MEMBER_STATUSES)
        status = values.get("Status") or statuses[0]
        if status not in statuses:
            raise RecordError("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                              f"Status: bad value for restricted picklist field: {status}",
                              ["Status"])
        values["Status"], values["CampaignId"], values[person[0]] = status, campaign_id, who_id
        for member in self.members_of(who_id):
            if member.values["CampaignId"] == campaign_id:
                raise RecordError("DUPLICATE_VALUE", "Already a campaign member.")
