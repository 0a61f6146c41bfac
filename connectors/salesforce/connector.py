"""The Salesforce connector: people upserted by External ID, a Campaign as the container.

People are Contacts (or Leads: CDP_SALESFORCE_OBJECT or the container's "object")
upserted 200 per call through sObject Collections, keyed by a unique External ID field
(CDP_Id__c) holding the profile id, which is therefore the member's remote id, known
before the first send. Joiners then get a CampaignMember row (200 per call; "Already a
campaign member." counts as done). Leaving the segment deletes the CampaignMember rows
(found by a SOQL query scoped to the campaign), never the person; erasure deletes the
person (to the Recycle Bin, with their CampaignMembers). From bulk_threshold changes in
one run, upserts and memberships go through Bulk API 2.0 jobs instead (bulk.py).
"""

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from django.conf import settings

from connectors.base import (
    Connector,
    EraseOutcome,
    ItemResult,
    Limits,
    OutMember,
    RemoteMember,
    SentMember,
)
from connectors.http import VendorAuthError, VendorBudgetExhausted, VendorUnavailable
from connectors.salesforce.bulk import bulk_push
from connectors.salesforce.client import (
    DEFAULT_TOKEN_HOST,
    TOKEN_PATH,
    SalesforceApi,
    is_record_id,
    problem,
    refusal,
    scrub,
    soql_quote,
)

PERSON_PREFIX = {"Contact": "003", "Lead": "00Q"}
# Read back with each member, so the nightly run sees fields edited in Salesforce.
READ_FIELDS = {
    "Contact": ("FirstName", "LastName", "Email", "Phone", "MobilePhone", "Title",
                "Department", "Birthdate", "MailingStreet", "MailingCity", "MailingState",
                "MailingPostalCode", "MailingCountry", "HasOptedOutOfEmail"),
    "Lead": ("FirstName", "LastName", "Email", "Phone", "MobilePhone", "Title", "Company",
             "Street", "City", "State", "PostalCode", "Country", "HasOptedOutOfEmail"),
}
QUERY_CHUNK = 100  # keys per SOQL IN list: the URL stays far under 16,384 bytes


class SalesforceConnector(Connector):
    kind = "salesforce"
    # sObject Collections take 200 records; 25 long-running calls per org at once. The
    # org's budget is per day (Sforce-Limit-Info), not per second.
    limits = Limits(rate_per_s=None, concurrency=25, batch_size=200)
    # Keyed by the profile id: a person without an email is still a valid Contact.
    needs_email = False

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        container = self.container
        self.campaign_id = str(container.get("campaign_id") or "")
        self.object = str(container.get("object") or settings.CDP_SALESFORCE_OBJECT)
        self.external_id = str(container.get("external_id_field")
                               or settings.CDP_SALESFORCE_EXTERNAL_ID)
        self.member_status = str(container.get("member_status") or "")  # "": the default
        self.read_fields = tuple(container.get("read_fields") or ())
        self.sf = SalesforceApi(
            self.client, self.credentials, version=settings.CDP_SALESFORCE_API_VERSION,
            reserve=_number(container.get("api_reserve"), settings.CDP_SALESFORCE_API_RESERVE))

    @property
    def bulk_threshold(self) -> int | None:  # type: ignore[override]
        value = _number(self.container.get("bulk_threshold"),
                        settings.CDP_SALESFORCE_BULK_THRESHOLD)
        return value or None

    @property
    def person_link(self) -> str:
        return f"{self.object}Id"  # CampaignMember.ContactId / LeadId

    @staticmethod
    def base_url(configured: str, credentials: dict[str, str]) -> str:
        """The token host (login.salesforce.com, test.salesforce.com or a My Domain)."""
        url = (configured or DEFAULT_TOKEN_HOST).rstrip("/")
        return url[: -len(TOKEN_PATH)] if url.endswith(TOKEN_PATH) else url

    # -- the Connector interface ----------------------------------------------------------
    def prepare(self) -> None:
        """Open the session, check the campaign is there and the budget allows a run."""
        if self.object not in PERSON_PREFIX:
            raise VendorAuthError(f"Salesforce object must be Contact or Lead, not {self.object}")
        if not is_record_id(self.campaign_id):
            raise VendorAuthError("campaign_id is not a Salesforce record id")
        response = self.sf.call("GET", f"/sobjects/Campaign/{self.campaign_id}", write=False,
                                params={"fields": "Id,IsActive"})
        if response.status_code == 404:
            raise VendorAuthError(f"Salesforce campaign {self.campaign_id} not found (or not "
                                  "visible to the integration user)")
        if response.status_code != 200:
            raise VendorUnavailable(f"Salesforce campaign check: {problem(response)}")
        self.sf.spend(1)

    def remote_id(self, member: OutMember) -> str:
        return str(member.profile_id)  # the External ID: the upsert key

    def record(self, member: OutMember) -> dict[str, Any]:
        record: dict[str, Any] = {"attributes": {"type": self.object}, **member.fields,
                                  self.external_id: str(member.profile_id)}
        if member.email:
            record["Email"] = member.email
        return record

    def push(self, batch: list[OutMember]) -> list[ItemResult]:
        self.sf.spend(2)
        response = self.sf.call(
            "PATCH", f"/composite/sobjects/{self.object}/{self.external_id}", write=True,
            json={"allOrNone": False, "records": [self.record(m) for m in batch]})
        answers = response.json() if response.status_code == 200 else None
        if not isinstance(answers, list) or len(answers) != len(batch):
            error = f"upsert refused: {problem(response)}"
            return [ItemResult(m.profile_id, False, error=error, retryable=True) for m in batch]
        results: dict[uuid.UUID, ItemResult] = {}
        joiners: list[tuple[OutMember, str]] = []
        for member, answer in zip(batch, answers, strict=True):
            if answer.get("success"):
                results[member.profile_id] = ItemResult(member.profile_id, True,
                                                        self.remote_id(member))
                if member.join:
                    joiners.append((member, answer["id"]))
                continue
            first = (answer.get("errors") or [{}])[0]
            error, retryable = refusal(first.get("statusCode", "UNKNOWN"),
                                       first.get("message", "refused"))
            results[member.profile_id] = ItemResult(member.profile_id, False, error=error,
                                                    retryable=retryable)
        if joiners:
            results.update(self.join(joiners))
        return [results[m.profile_id] for m in batch]

    def join(self, joiners: list[tuple[OutMember, str]]) -> dict[uuid.UUID, ItemResult]:
        """CampaignMember rows for people just upserted; a failure keeps them pending."""
        rows = [{"attributes": {"type": "CampaignMember"}, "CampaignId": self.campaign_id,
                 self.person_link: person_id,
                 **({"Status": self.member_status} if self.member_status else {})}
                for _, person_id in joiners]
        try:
            response = self.sf.call("POST", "/composite/sobjects", write=True,
                                    json={"allOrNone": False, "records": rows})
            answers = response.json() if response.status_code == 200 else None
        except VendorUnavailable as exc:
            response, answers = None, str(exc)
        if not isinstance(answers, list) or len(answers) != len(joiners):
            error = scrub(f"campaign membership not confirmed: "
                          f"{problem(response) if response is not None else answers}")
            return {m.profile_id: ItemResult(m.profile_id, False, error=error, retryable=True)
                    for m, _ in joiners}
        out = {}
        for (member, _), answer in zip(joiners, answers, strict=True):
            codes = [e.get("statusCode") for e in answer.get("errors") or []]
            if answer.get("success") or codes == ["DUPLICATE_VALUE"]:  # already a member
                out[member.profile_id] = ItemResult(member.profile_id, True,
                                                    self.remote_id(member))
            else:
                first = (answer.get("errors") or [{}])[0]
                error, _ = refusal(first.get("statusCode", "UNKNOWN"),
                                   first.get("message", "refused"))
                out[member.profile_id] = ItemResult(member.profile_id, False,
                                                    error=f"campaign membership: {error}",
                                                    retryable=True)
        return out

    def push_bulk(self, members: list[OutMember]) -> list[ItemResult]:
        return bulk_push(self, members)

    def memberships(self, remote_ids: list[str]) -> dict[str, str]:
        """CampaignMember Id of each of these people in the campaign (absent: not in it).
        Keys are profile ids (External ID) or, for people the CDP never sent, record ids."""
        found: dict[str, str] = {}
        keys = [r for r in remote_ids if not is_record_id(r)]
        ids = [r for r in remote_ids if is_record_id(r)]
        where = f"FROM CampaignMember WHERE CampaignId = {soql_quote(self.campaign_id)} AND "
        for start in range(0, len(keys), QUERY_CHUNK):
            chunk = ", ".join(soql_quote(k) for k in keys[start : start + QUERY_CHUNK])
            path = f"{self.object}.{self.external_id}"
            for row in self.sf.query(f"SELECT Id, {path} {where}{path} IN ({chunk})"):  # noqa: S608
                found[str((row.get(self.object) or {}).get(self.external_id))] = row["Id"]
        for start in range(0, len(ids), QUERY_CHUNK):
            chunk = ", ".join(soql_quote(i) for i in ids[start : start + QUERY_CHUNK])
            link = self.person_link
            for row in self.sf.query(f"SELECT Id, {link} {where}{link} IN ({chunk})"):  # noqa: S608
                person = str(row.get(link) or "")
                for wanted in ids:
                    if wanted[:15] == person[:15]:
                        found[wanted] = row["Id"]
        return found

    def remove(self, batch: list[SentMember]) -> list[ItemResult]:
        self.sf.spend(3)
        rows = self.memberships([m.remote_id for m in batch])
        row_ids = list(dict.fromkeys(rows.values()))
        outcome: dict[str, tuple[bool, str]] = {}
        for start in range(0, len(row_ids), self.limits.batch_size):
            outcome.update(self._delete_rows(row_ids[start : start + self.limits.batch_size]))
        results = []
        for member in batch:
            # Not in the campaign (any more): out either way.
            ok, error = outcome.get(rows.get(member.remote_id, ""), (True, ""))
            results.append(ItemResult(member.profile_id, ok, member.remote_id, error=error,
                                      retryable=not ok))
        return results

    def _delete_rows(self, row_ids: list[str]) -> dict[str, tuple[bool, str]]:
        """Delete CampaignMember rows (200 per call): (done, error) per row."""
        self.sf.spend(1)
        response = self.sf.call("DELETE", "/composite/sobjects", write=True,
                                params={"ids": ",".join(row_ids), "allOrNone": "false"})
        answers = response.json() if response.status_code == 200 else None
        if not isinstance(answers, list) or len(answers) != len(row_ids):
            error = f"campaign member delete refused: {problem(response)}"
            return {row_id: (False, error) for row_id in row_ids}
        outcome = {}
        for row_id, answer in zip(row_ids, answers, strict=True):
            codes = [e.get("statusCode") for e in answer.get("errors") or []]
            ok = bool(answer.get("success")) or codes == ["ENTITY_IS_DELETED"]  # already gone
            outcome[row_id] = (ok, "" if ok else scrub(f"campaign member delete: {codes}"))
        return outcome

    def erase(self, remote_id: str, container: dict[str, Any]) -> EraseOutcome:
        """Delete the person (Recycle Bin); no live record with the id counts as done."""
        try:
            self.sf.spend(3)
            if is_record_id(remote_id):  # someone the CDP never sent (mirror strangers)
                person: tuple[str, str] | EraseOutcome = (
                    "Lead" if remote_id.startswith(PERSON_PREFIX["Lead"]) else "Contact",
                    remote_id)
            else:
                person = self._locate(remote_id, container)
            if isinstance(person, EraseOutcome):
                return person
            sobject, person_id = person
            response = self.sf.call("DELETE", f"/sobjects/{sobject}/{person_id}", write=True)
        except (VendorUnavailable, VendorAuthError, VendorBudgetExhausted) as exc:
            return EraseOutcome("failed", str(exc)[:300])
        if response.status_code == 204:
            return EraseOutcome("done", f"204 {sobject} {person_id} deleted (Recycle Bin)")
        if response.status_code == 404:
            return EraseOutcome("done", f"{problem(response)} (already deleted)")
        return EraseOutcome("failed", problem(response))

    def _locate(self, remote_id: str, container: dict[str, Any]) -> tuple[str, str] | EraseOutcome:
        """The live person holding this External ID, looked for as the sync's object
        first, then as the other one (a delivery may not say which its sync used)."""
        key = str(container.get("external_id_field") or self.external_id)
        first = str(container.get("object") or self.object)
        for sobject in dict.fromkeys((first, *PERSON_PREFIX)):
            found = self.sf.call("GET", f"/sobjects/{sobject}/{key}/{quote(remote_id, safe='')}",
                                 write=False, params={"fields": "Id"})
            if found.status_code == 200:
                return sobject, str(found.json()["Id"])
            if found.status_code == 300:
                return EraseOutcome("manual", f"300: several {sobject} records hold the id")
            if found.status_code != 404:
                return EraseOutcome("failed", problem(found))
        return EraseOutcome("done", "404 NOT_FOUND: no live Contact or Lead holds the id "
                                    "(already deleted)")

    def read_back(self) -> Iterator[RemoteMember]:
        """Every person in the campaign with the fields the CDP may have sent; a Contact
        that opted out of email comes back "unsubscribed"."""
        person = self.object
        names = dict.fromkeys((*READ_FIELDS[person], *self.read_fields, self.external_id))
        fields = ", ".join(f"{person}.{name}" for name in names)
        soql = (f"SELECT Id, {self.person_link}, {fields} FROM CampaignMember "  # noqa: S608
                f"WHERE CampaignId = {soql_quote(self.campaign_id)}")
        for row in self.sf.query(soql):
            values = row.get(person) or {}
            yield RemoteMember(
                remote_id=str(values.get(self.external_id) or row.get(self.person_link)),
                email=values.get("Email"),
                status="unsubscribed" if values.get("HasOptedOutOfEmail") else "subscribed",
                in_container=True,
                fields={k: v for k, v in values.items()
                        if k not in ("attributes", self.external_id, "HasOptedOutOfEmail")},
            )


def _number(value: Any, default: int) -> int:
    """A container option, or the setting when absent or not a whole number."""
    try:
        return default if value is None else int(value)
    except (TypeError, ValueError):
        return default
