"""Webhook destination: signed diffs, retried, verifiable with the documented recipe."""

import time

import pytest
from django.utils import timezone

from cdp.models import ConsentEntry
from cdp.services.erasure import profiles_erase
from cdp.services.record_parsing import ParsedRecord
from cdp.services.records import records_upsert
from connectors.engine import sync_run
from connectors.erasure import deliveries_send
from connectors.models import SyncRun
from connectors.services import destination_save, sync_save
from connectors.webhook import signature, verify


@pytest.fixture
def webhook_sync(audience, webhook):
    destination = destination_save(
        actor="t", name="hook", kind="webhook", purpose="email_marketing",
        credentials={"secret": "whsec-test"}, field_mapping={"city": "city"}, timeout_s=2)
    return sync_save(actor="t", segment=audience.segment, destination=destination,
                     container={"url": f"{webhook.url}/cdp-hook"})


def test_diffs_are_signed_and_carry_only_the_difference(audience, webhook, webhook_sync):
    audience.add(3)
    audience.evaluate()
    run = sync_run(sync_id=webhook_sync.pk)
    assert run.status == SyncRun.Status.SUCCEEDED and run.added == 3
    (first,) = webhook.deliveries()
    assert first.valid is True and first.path == "/cdp-hook"
    body = first.json()
    assert body["type"] == "audience.diff" and body["segment"] == "brest"
    assert {a["profile_id"] for a in body["added"]} == {str(audience.profile(n))
                                                        for n in range(3)}
    assert body["added"][0]["fields"] == {"city": "Brest"}
    # Only the mapped fields travel: no email, no name.
    assert b"@" not in first.body and b"Morvan" not in first.body

    assert sync_run(sync_id=webhook_sync.pk).write_calls == 0
    records_upsert(source=audience.source, records=[ParsedRecord("p0", {"city": "Rennes"})])
    ConsentEntry.objects.create(profile_id=audience.profile(1), purpose="email_marketing",
                                status="withdrawn", captured_at=timezone.now(),
                                source=audience.source)
    audience.evaluate()
    sync_run(sync_id=webhook_sync.pk)
    removed = webhook.deliveries()[-1].json()["removed"]
    assert {r["profile_id"] for r in removed} == {str(audience.profile(0)),
                                                  str(audience.profile(1))}


def test_receiver_errors_are_retried(audience, webhook, webhook_sync):
    audience.add(2)
    audience.evaluate()
    webhook.inject(fail_next=2)
    run = sync_run(sync_id=webhook_sync.pk)
    assert run.status == SyncRun.Status.SUCCEEDED and run.retries == 2
    assert len(webhook.requests(method="POST")) == 3  # two injected failures, then ok
    assert len([d for d in webhook.deliveries() if d.valid]) == 1  # delivered once


def test_erasure_is_announced_to_the_receiver(audience, webhook, webhook_sync):
    audience.add(1)
    audience.evaluate()
    sync_run(sync_id=webhook_sync.pk)
    profiles_erase(profile_ids=[audience.profile(0)], actor="dpo", reason="Art. 17")
    assert deliveries_send() == {"done": 1}
    erased = webhook.deliveries()[-1]
    assert erased.valid and erased.json()["type"] == "subject.erased"


def test_verification_recipe_refuses_forgery_and_replay():
    body, stamp = b'{"type":"audience.diff"}', str(int(time.time()))
    header = signature("s3cret", stamp, body)
    assert verify("s3cret", stamp, body, header)
    assert not verify("other", stamp, body, header)
    assert not verify("s3cret", stamp, body + b" ", header)
    old = str(int(time.time()) - 3600)
    assert not verify("s3cret", old, body, signature("s3cret", old, body))
