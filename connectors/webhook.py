"""Webhook destination: each diff POSTed as signed JSON to the receiver's URL.

Body: {"type": "audience.diff", "sync": <id>, "segment": <slug>, "sent_at": <ISO>,
"added": [{"profile_id", "fields"}], "updated": [...], "removed": [{"profile_id"}]}; an
erasure is {"type": "subject.erased", "profile_ids": [...]}. Headers:
X-CDP-Timestamp: <unix seconds> and X-CDP-Signature: sha256=<hex HMAC-SHA256 of
timestamp + "." + raw body, keyed with the destination's secret>. Receivers recompute it
over the raw bytes, compare in constant time and refuse timestamps older than 5 minutes
(replays); the README shows the recipe. Any 2xx confirms the batch; 4xx other than 408
and 429 is a refusal (not retried until the data changes); the rest is retried.
"""

import hashlib
import hmac
import json
import time
from typing import Any

from django.utils import timezone

from connectors.base import (
    Connector,
    EraseOutcome,
    ItemResult,
    Limits,
    OutMember,
    SentMember,
)
from connectors.http import VendorUnavailable

SIGNATURE_HEADER = "X-CDP-Signature"
TIMESTAMP_HEADER = "X-CDP-Timestamp"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """What X-CDP-Signature carries for this timestamp and body."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, header: str, *,
           tolerance_s: int = 300, now: float | None = None) -> bool:
    """The receiver's check (also the documented recipe): right key, fresh timestamp."""
    if not timestamp.isdigit() or abs((now or time.time()) - int(timestamp)) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), header)


class WebhookConnector(Connector):
    kind = "webhook"
    limits = Limits(rate_per_s=20, concurrency=4, batch_size=1000)
    needs_email = False
    readable = False

    @staticmethod
    def base_url(configured: str, credentials: dict[str, str]) -> str:
        return configured

    def _post(self, payload: dict[str, Any]) -> tuple[bool, bool, str]:
        """(confirmed, retryable, what the receiver answered)."""
        body = json.dumps(payload, separators=(",", ":"), default=str).encode()
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json", TIMESTAMP_HEADER: stamp,
            SIGNATURE_HEADER: signature(self.credentials["secret"], stamp, body),
        }
        response = self.client.request("POST", self.container.get("url", ""), write=True,
                                       content=body, headers=headers)
        status = response.status_code
        return 200 <= status < 300, status in (408, 409, 425), f"HTTP {status}"

    def remote_id(self, member: OutMember) -> str:
        return str(member.profile_id)

    def _diff(self, **parts: Any) -> dict[str, Any]:
        return {"type": "audience.diff", "sync": self.container.get("sync_id"),
                "segment": self.container.get("segment"),
                "sent_at": timezone.now().isoformat(), "added": [], "updated": [],
                "removed": [], **parts}

    def push(self, batch: list[OutMember]) -> list[ItemResult]:
        added = [{"profile_id": str(m.profile_id), "fields": m.fields} for m in batch if m.join]
        updated = [{"profile_id": str(m.profile_id), "fields": m.fields}
                   for m in batch if not m.join]
        ok, retryable, answer = self._post(self._diff(added=added, updated=updated))
        return [ItemResult(m.profile_id, ok, str(m.profile_id),
                           error="" if ok else answer, retryable=retryable) for m in batch]

    def remove(self, batch: list[SentMember]) -> list[ItemResult]:
        removed = [{"profile_id": str(m.profile_id)} for m in batch]
        ok, retryable, answer = self._post(self._diff(removed=removed))
        return [ItemResult(m.profile_id, ok, m.remote_id, error="" if ok else answer,
                           retryable=retryable) for m in batch]

    def erase(self, remote_id: str, container: dict[str, Any]) -> EraseOutcome:
        try:
            ok, _, answer = self._post({"type": "subject.erased", "profile_ids": [remote_id],
                                        "sent_at": timezone.now().isoformat()})
        except VendorUnavailable as exc:
            return EraseOutcome("failed", str(exc)[:300])
        return EraseOutcome("done" if ok else "failed", answer)
