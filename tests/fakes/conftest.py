"""Fixtures that start the fake vendor servers; each checks at teardown that the fake did
not crash, so a bug in a fake cannot pass for a connector's retry path."""

from collections.abc import Iterator

import httpx
import pytest

from tests.fakes.mailchimp import MailchimpFake
from tests.fakes.webhook import WebhookReceiver


@pytest.fixture
def mailchimp_fake() -> Iterator[MailchimpFake]:
    with MailchimpFake() as fake:
        yield fake
        assert fake.errors == []


@pytest.fixture
def mailchimp_client(mailchimp_fake: MailchimpFake) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=mailchimp_fake.base_url, auth=("cdp", mailchimp_fake.api_key), timeout=5
    ) as client:
        yield client


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(secret="whsec-test") as receiver:
        yield receiver
        assert receiver.errors == []
