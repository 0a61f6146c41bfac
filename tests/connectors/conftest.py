"""Fixtures for connector tests: an audience in the CDP and destinations on live fakes."""

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.test import override_settings

from cdp.models import ConsentEntry, Source, SourceRecord
from cdp.services.record_parsing import ParsedRecord
from cdp.services.records import records_upsert
from connectors.models import AudienceSync, Destination
from connectors.services import destination_save, sync_save
from segments.evaluation import segment_evaluate
from segments.models import Segment
from segments.services import segment_save
from tests.fakes.mailchimp import MailchimpFake
from tests.fakes.webhook import WebhookReceiver

LIST_ID = "a1b2c3d4e5"
TAG = "cdp:brest"
CAPTURED = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@dataclass
class Audience:
    source: Source
    segment: Segment

    def add(self, count: int, *, start: int = 0, city: str = "Brest", consent: bool = True,
            domain: str = "cdp.test") -> list:
        """count people (person{n}@domain, Brest by default) with email consent."""
        records_upsert(source=self.source, records=[
            ParsedRecord(f"p{n}", {"email": f"person{n}@{domain}", "first_name": f"Ann{n}",
                                   "last_name": "Morvan", "city": city})
            for n in range(start, start + count)
        ])
        ids = list(SourceRecord.objects.filter(
            external_id__in=[f"p{n}" for n in range(start, start + count)]
        ).values_list("profile_id", flat=True))
        if consent:
            ConsentEntry.objects.bulk_create([
                ConsentEntry(profile_id=pid, purpose="email_marketing", status="granted",
                             captured_at=CAPTURED, source=self.source) for pid in ids])
        return ids

    def evaluate(self) -> None:
        segment_evaluate(segment_id=self.segment.pk)

    def profile(self, n: int):
        return SourceRecord.objects.get(external_id=f"p{n}").profile_id


@pytest.fixture(autouse=True)
def fast_backoff() -> Iterator[None]:
    with override_settings(CDP_SYNC_BACKOFF_BASE_S=0.01, CDP_SYNC_BACKOFF_CAP_S=0.05):
        yield


@pytest.fixture
def audience(db) -> Audience:
    source = Source.objects.create(name="crm", kind=Source.Kind.CRM, priority=100)
    segment = segment_save(actor="t", name="Brest", slug="brest", schedule="",
                           definition={"attribute": "city", "op": "eq", "value": "Brest"})
    return Audience(source, segment)


@pytest.fixture
def mailchimp() -> Iterator[MailchimpFake]:
    with MailchimpFake(list_ids=(LIST_ID,), seed=7) as fake:
        yield fake
        assert fake.errors == []


@pytest.fixture
def mailchimp_destination(db, mailchimp) -> Destination:
    return destination_save(
        actor="t", name="mc", kind="mailchimp", purpose="email_marketing",
        credentials={"api_key": mailchimp.api_key}, base_url=mailchimp.base_url_template,
        field_mapping={"FNAME": "first_name", "LNAME": "last_name"}, timeout_s=2,
    )


@pytest.fixture
def mailchimp_sync(audience, mailchimp_destination) -> AudienceSync:
    return sync_save(actor="t", segment=audience.segment, destination=mailchimp_destination,
                     container={"list_id": LIST_ID, "tag": TAG})


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(secret="whsec-test") as receiver:
        yield receiver
        assert receiver.errors == []
