"""Webhook receiver: records deliveries and checks HMAC-SHA256 over timestamp + body."""

import json
import time

import httpx

from tests.fakes.webhook import WebhookReceiver, sign


def deliver(
    url: str, secret: str, payload: dict, *, timestamp: str | None = None
) -> httpx.Response:
    body = json.dumps(payload).encode()
    stamp = timestamp or str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-CDP-Timestamp": stamp,
        "X-CDP-Signature": "sha256=" + sign(secret, stamp, body),
    }
    return httpx.post(f"{url}/hooks/audience", content=body, headers=headers)


def test_valid_signature_is_accepted_and_recorded(webhook_receiver: WebhookReceiver) -> None:
    response = deliver(webhook_receiver.url, "whsec-test", {"added": ["p1"]})
    assert response.status_code == 200
    (delivery,) = webhook_receiver.deliveries()
    assert (delivery.valid, delivery.path, delivery.json()) == (
        True,
        "/hooks/audience",
        {"added": ["p1"]},
    )


def test_wrong_secret_or_stale_timestamp_is_refused(webhook_receiver: WebhookReceiver) -> None:
    assert deliver(webhook_receiver.url, "other", {}).status_code == 401
    stale = str(int(time.time()) - 3600)
    assert deliver(webhook_receiver.url, "whsec-test", {}, timestamp=stale).status_code == 401
    unsigned = httpx.post(f"{webhook_receiver.url}/hooks", json={})
    assert unsigned.status_code == 401
    assert [d.valid for d in webhook_receiver.deliveries()] == [False, False, False]


def test_configurable_headers_and_rotated_secrets() -> None:
    with WebhookReceiver(
        secret=["new", "old"],
        signature_header="X-Sig",
        timestamp_header="X-Ts",
        signature_prefix="",
        separator=b"",
        tolerance=None,
    ) as receiver:
        body = b'{"x":1}'
        for secret in ("old", "new"):
            headers = {
                "X-Ts": "1700000000",
                "X-Sig": sign(secret, "1700000000", body, separator=b""),
            }
            assert httpx.post(f"{receiver.url}/", content=body, headers=headers).status_code == 200
        assert len(receiver.deliveries(valid=True)) == 2


def test_receiver_faults_are_the_shared_ones(webhook_receiver: WebhookReceiver) -> None:
    webhook_receiver.inject(fail_next=1, fail_statuses=(503,))
    assert deliver(webhook_receiver.url, "whsec-test", {}).status_code == 503
    assert deliver(webhook_receiver.url, "whsec-test", {}).status_code == 200
    assert [r.fault for r in webhook_receiver.requests()] == ["5xx", None]
    assert len(webhook_receiver.deliveries()) == 1  # a 5xx happens before the handler runs
