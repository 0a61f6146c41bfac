"""The sObject types the Salesforce fake knows, their fields, and Salesforce ids.

Faithful (connector doc 3.3-3.5): 18-character case-safe ids (15 characters plus the
3-character checksum of upper-case positions) with the real key prefixes (Contact 003,
Lead 00Q, Campaign 701, CampaignMember 00v, Bulk job 750, query locator 01g); Contact
`LastName` and Lead `LastName`/`Company` required; `Email` an idLookup field (not unique);
`CDP_Id__c` a unique External ID; field lengths of the standard fields; system fields
read-only. Simplified: field-level security, record types and picklist values other than
CampaignMember.Status are not modelled.
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from dataclasses import dataclass, field

_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_SUFFIX = string.ascii_uppercase + "012345"
ORG_ID = "00D5g000004AbCdEAF"
USER_ID = "0055g00000IntUsrAAA"
PREFIXES = {
    "Account": "001",
    "Contact": "003",
    "Lead": "00Q",
    "Campaign": "701",
    "CampaignMember": "00v",
    "Job": "750",
    "QueryLocator": "01g",
}


def id18(id15: str) -> str:
    """The case-safe 18-character form: one suffix letter per 5 characters, whose bits
    say which of them are upper-case letters."""
    suffix = ""
    for start in range(0, 15, 5):
        bits = sum(1 << i for i, ch in enumerate(id15[start : start + 5]) if ch.isupper())
        suffix += _SUFFIX[bits]
    return id15 + suffix


def make_id(prefix: str, number: int) -> str:
    digits = ""
    while True:
        number, rest = divmod(number, 62)
        digits = _BASE62[rest] + digits
        if not number:
            break
    return id18(f"{prefix}5g0{digits.rjust(9, '0')}")


def same_id(a: str, b: str) -> bool:
    """15- and 18-character forms name the same record; the first 15 are case-sensitive."""
    return len(a) in (15, 18) and len(b) in (15, 18) and a[:15] == b[:15]


def looks_like_id(value: object) -> bool:
    return (
        isinstance(value, str)
        and len(value) in (15, 18)
        and value.isalnum()
        and (len(value) == 15 or id18(value[:15]) == value)
    )


@dataclass(frozen=True)
class Field:
    name: str
    kind: str = "string"  # string, email, boolean, date, double, id, reference, datetime, picklist
    length: int = 255
    required: bool = False  # on create: nillable=false without a default
    writable: bool = True
    external_id: bool = False
    unique: bool = False
    id_lookup: bool = False
    reference_to: str = ""  # the referenced type, for reference fields
    relationship: str = ""  # e.g. "Contact" for CampaignMember.ContactId
    default: object = None


@dataclass
class SObjectType:
    name: str
    prefix: str
    fields: dict[str, Field] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lower = {name.lower(): f for name, f in self.fields.items()}
        self._relations = {f.relationship.lower(): f for f in self.fields.values()
                           if f.relationship}

    def field(self, name: str) -> Field | None:
        return self._lower.get(name.lower())

    def relation(self, name: str) -> Field | None:
        return self._relations.get(name.lower())

    def add(self, extra: Field) -> None:
        self.fields[extra.name] = extra
        self.__post_init__()


def _system() -> list[Field]:
    return [
        Field("Id", "id", 18, writable=False, id_lookup=True),
        Field("IsDeleted", "boolean", writable=False, default=False),
        Field("CreatedDate", "datetime", writable=False),
        Field("LastModifiedDate", "datetime", writable=False),
        Field("SystemModstamp", "datetime", writable=False),
    ]


def _person(address: Iterable[Field]) -> list[Field]:
    return [
        Field("FirstName", length=40),
        Field("LastName", length=80, required=True),
        Field("Email", "email", 80, id_lookup=True),
        Field("Phone", length=40),
        Field("MobilePhone", length=40),
        Field("Title", length=128),
        Field("HasOptedOutOfEmail", "boolean", default=False),
        Field("Description", length=32000),
        *address,
    ]


def standard_types(external_id: str = "CDP_Id__c", extra: Iterable[Field] = ()) -> dict:
    """The org's schema: a fresh copy per fake (tests may add custom fields)."""
    cdp_id = Field(external_id, length=64, external_id=True, unique=True, id_lookup=True)
    extra = list(extra)
    contact = [
        Field("Birthdate", "date"),
        Field("Department", length=80),
        Field("AccountId", "reference", 18, reference_to="Account", relationship="Account"),
        *(Field(f"Mailing{part}", length=n) for part, n in
          (("Street", 255), ("City", 40), ("State", 80), ("PostalCode", 20), ("Country", 80))),
    ]
    lead = [
        Field("Company", length=255, required=True),
        Field("Status", "picklist", 40, default="Open - Not Contacted"),
        *(Field(part, length=n) for part, n in
          (("Street", 255), ("City", 40), ("State", 80), ("PostalCode", 20), ("Country", 80))),
    ]
    types = {
        "Account": [Field("Name", length=255, required=True)],
        "Contact": [*_person(contact), cdp_id, *extra],
        "Lead": [*_person(lead), cdp_id, *extra],
        "Campaign": [
            Field("Name", length=80, required=True),
            Field("IsActive", "boolean", default=False),
            Field("Status", "picklist", 40, default="Planned"),
            Field("Type", "picklist", 40),
        ],
        "CampaignMember": [
            Field("CampaignId", "reference", 18, required=True, reference_to="Campaign",
                  relationship="Campaign"),
            Field("ContactId", "reference", 18, reference_to="Contact", relationship="Contact"),
            Field("LeadId", "reference", 18, reference_to="Lead", relationship="Lead"),
            Field("Status", "picklist", 40),
        ],
    }
    return {
        name: SObjectType(name, PREFIXES[name], {f.name: f for f in [*_system(), *fields]})
        for name, fields in types.items()
    }
