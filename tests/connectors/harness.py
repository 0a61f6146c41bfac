"""One harness per vendor, so the engine's guarantees are tested for every connector by
one parametrized suite (test_engine_matrix.py).

A harness starts the vendor's fake, creates a destination pointing at it, names the
container of a sync, and answers what the vendor really holds (read through the fake's
inspection API, not through the connector under test).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar, Protocol

from connectors.models import Destination
from connectors.services import destination_save
from tests.fakes.base import FakeServer
from tests.fakes.hubspot import HubspotFake
from tests.fakes.mailchimp import MailchimpFake
from tests.fakes.salesforce import SalesforceFake

LIST_ID = "a1b2c3d4e5"
TAG = "cdp:brest"
MAPPING_SOURCES = {"first_name": "first_name", "last_name": "last_name"}


class Harness(Protocol):
    name: ClassVar[str]

    def start(self) -> Any:
        """A context manager yielding the running fake."""

    def destination(self, fake: Any) -> Destination: ...

    def container(self, fake: Any) -> dict[str, Any]: ...

    def audience(self, fake: Any) -> set[str]:
        """Emails (lower-case) of the contacts in the sync's container at the vendor."""

    def contacts(self, fake: Any) -> list[str]:
        """Emails of every contact the vendor holds (duplicates kept, to detect them)."""

    def first_name(self, fake: Any, email: str) -> str | None: ...

    def erased(self, fake: Any, email: str) -> bool:
        """The vendor deleted this person for good."""

    def opt_out(self, fake: Any, email: str) -> None:
        """The person unsubscribes at the vendor (for the back-sync test)."""

    def writes(self, fake: FakeServer) -> int: ...


class MailchimpHarness:
    name = "mailchimp"

    @contextmanager
    def start(self) -> Iterator[MailchimpFake]:
        with MailchimpFake(list_ids=(LIST_ID,), seed=7) as fake:
            yield fake
            assert fake.errors == []

    def destination(self, fake: MailchimpFake) -> Destination:
        return destination_save(
            actor="t", name="mc", kind="mailchimp", purpose="email_marketing",
            credentials={"api_key": fake.api_key}, base_url=fake.base_url_template,
            field_mapping={"FNAME": "first_name", "LNAME": "last_name"}, timeout_s=2,
        )

    def container(self, fake: MailchimpFake) -> dict[str, Any]:
        return {"list_id": LIST_ID, "tag": TAG}

    def audience(self, fake: MailchimpFake) -> set[str]:
        return {email.lower() for email in fake.tag_members(TAG)}

    def contacts(self, fake: MailchimpFake) -> list[str]:
        return [email.lower() for email in fake.members()]

    def first_name(self, fake: MailchimpFake, email: str) -> str | None:
        member = fake.member(email)
        return member["merge_fields"].get("FNAME") if member else None

    def erased(self, fake: MailchimpFake, email: str) -> bool:
        from tests.fakes.mailchimp import subscriber_hash

        return fake.member(email) is None and subscriber_hash(email) in fake.forgotten()

    def opt_out(self, fake: MailchimpFake, email: str) -> None:
        fake.set_status(email, "unsubscribed")

    def writes(self, fake: FakeServer) -> int:
        return len(fake.requests(write=True))


class HubspotHarness:
    """HubSpot with a private-app token and the Professional tier's limits; the sync's
    container is a list found (or created) by name."""

    name = "hubspot"
    list_name = "cdp: brest"

    @contextmanager
    def start(self) -> Iterator[HubspotFake]:
        with HubspotFake(seed=7) as fake:
            yield fake
            assert fake.errors == []

    def destination(self, fake: HubspotFake) -> Destination:
        return destination_save(
            actor="t", name="hs", kind="hubspot", purpose="email_marketing",
            credentials={"access_token": fake.token}, base_url=fake.base_url,
            field_mapping={"firstname": "first_name", "lastname": "last_name"}, timeout_s=2,
        )

    def container(self, fake: HubspotFake) -> dict[str, Any]:
        return {"list_name": self.list_name}

    def audience(self, fake: HubspotFake) -> set[str]:
        return {email.lower() for email in fake.list_members(self.list_name)}

    def contacts(self, fake: HubspotFake) -> list[str]:
        return [email.lower() for email in fake.contact_emails()]

    def first_name(self, fake: HubspotFake, email: str) -> str | None:
        contact = fake.contact(email)
        return contact["properties"].get("firstname") if contact else None

    def erased(self, fake: HubspotFake, email: str) -> bool:
        return fake.contact(email) is None and email.lower() in fake.gdpr_deleted()

    def opt_out(self, fake: HubspotFake, email: str) -> None:
        fake.set_opted_out(email)

    def writes(self, fake: FakeServer) -> int:
        return len(fake.requests(write=True))


class SalesforceHarness:
    """Salesforce with a connected app's refresh token; people are Contacts keyed by
    CDP_Id__c, the sync's container a Campaign that exists in the org."""

    name = "salesforce"
    campaign = "CDP: Brest"

    @contextmanager
    def start(self) -> Iterator[SalesforceFake]:
        with SalesforceFake(campaigns=(self.campaign,), seed=7) as fake:
            yield fake
            assert fake.errors == []

    def destination(self, fake: SalesforceFake) -> Destination:
        return destination_save(
            actor="t", name="sf", kind="salesforce", purpose="email_marketing",
            credentials={"client_id": fake.client_id, "client_secret": fake.client_secret,
                         "refresh_token": fake.refresh_token},
            base_url=fake.url,
            field_mapping={"FirstName": "first_name", "LastName": "last_name"}, timeout_s=2,
        )

    def container(self, fake: SalesforceFake) -> dict[str, Any]:
        return {"campaign_id": fake.campaign_id(self.campaign)}

    def audience(self, fake: SalesforceFake) -> set[str]:
        return {email.lower() for email in fake.campaign_emails(fake.campaign_id(self.campaign))}

    def contacts(self, fake: SalesforceFake) -> list[str]:
        return [str(c.get("Email") or "").lower() for c in fake.contacts()]

    def first_name(self, fake: SalesforceFake, email: str) -> str | None:
        contact = fake.contact(email)
        return contact.get("FirstName") if contact else None

    def erased(self, fake: SalesforceFake, email: str) -> bool:
        deleted = {str(c.get("Email") or "").lower() for c in fake.recycle_bin()}
        return fake.contact(email) is None and email.lower() in deleted

    def opt_out(self, fake: SalesforceFake, email: str) -> None:
        fake.set_opted_out(email)

    def writes(self, fake: FakeServer) -> int:
        return len(fake.requests(write=True))


HARNESSES: list[Harness] = [MailchimpHarness(), HubspotHarness(), SalesforceHarness()]
