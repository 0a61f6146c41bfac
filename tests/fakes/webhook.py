"""A fake webhook receiver: records signed POSTs and checks their HMAC-SHA256 signature.

The signature is HMAC-SHA256(secret, timestamp + separator + body), hex, optionally with
a prefix such as `sha256=`; header names, separator and prefix are configurable so the
receiver follows whatever scheme the webhook connector settles on. Several secrets may
be valid at once (rotation). With `require_signature`, a missing, wrong or stale
signature (timestamp outside `tolerance` seconds) is refused with 401; every delivery
is recorded either way, with `valid` saying what the check found.
Faithful to a typical receiver: answers quickly with a configurable status, and the
same limits and faults as the vendor fakes (5xx, slow, dropped, rate limit).
Simplified: no retries of its own, no redirects, one status for every delivery
(use `inject(fail_next=...)` for transient failures).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from tests.fakes.base import FakeServer, Faults, Limits, Request, Response, json_response


def sign(secret: str, timestamp: str, body: bytes, *, separator: bytes = b".") -> str:
    """The hex HMAC-SHA256 of `timestamp + separator + body`, as a sender computes it."""
    message = timestamp.encode() + separator + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Delivery:
    """One received POST; `valid` is None when the receiver has no secret to check with."""

    path: str
    headers: dict[str, str]
    body: bytes
    timestamp: str | None
    signature: str | None
    valid: bool | None
    received_at: float

    def json(self) -> Any:
        return json.loads(self.body)


class WebhookReceiver(FakeServer):
    """A live endpoint for webhook deliveries: `with WebhookReceiver(secret="s") as hook:`."""

    def __init__(
        self,
        *,
        secret: str | Iterable[str] | None = None,
        signature_header: str = "X-CDP-Signature",
        timestamp_header: str = "X-CDP-Timestamp",
        signature_prefix: str = "sha256=",
        separator: bytes = b".",
        tolerance: float | None = 300.0,
        require_signature: bool = True,
        status: int = 200,
        clock: Callable[[], float] = time.time,
        faults: Faults | None = None,
        limits: Limits | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(faults=faults, limits=limits, seed=seed)
        self.secrets = [secret] if isinstance(secret, str) else list(secret or [])
        self.signature_header = signature_header.lower()
        self.timestamp_header = timestamp_header.lower()
        self.signature_prefix = signature_prefix
        self.separator = separator
        self.tolerance = tolerance
        self.require_signature = require_signature
        self.status = status
        self.clock = clock
        self._deliveries: list[Delivery] = []
        self.add_route("POST", r"/.*", self._receive)

    def reset_state(self) -> None:
        self._deliveries.clear()

    def deliveries(self, *, valid: bool | None = None) -> list[Delivery]:
        with self.lock:
            return [d for d in self._deliveries if valid is None or d.valid == valid]

    def verify(self, timestamp: str | None, signature: str | None, body: bytes) -> bool:
        """True when some secret signs `timestamp + separator + body` to `signature`."""
        if not (timestamp and signature and signature.startswith(self.signature_prefix)):
            return False
        sent = signature.removeprefix(self.signature_prefix)
        fresh = self._fresh(timestamp)
        return fresh and any(
            hmac.compare_digest(sign(s, timestamp, body, separator=self.separator), sent)
            for s in self.secrets
        )

    def _fresh(self, timestamp: str) -> bool:
        if self.tolerance is None:
            return True
        try:
            return abs(self.clock() - float(timestamp)) <= self.tolerance
        except ValueError:
            return False

    def _receive(self, request: Request) -> Response:
        timestamp = request.header(self.timestamp_header)
        signature = request.header(self.signature_header)
        valid = self.verify(timestamp, signature, request.body) if self.secrets else None
        self._deliveries.append(
            Delivery(
                path=request.path,
                headers=dict(request.headers),
                body=request.body,
                timestamp=timestamp,
                signature=signature,
                valid=valid,
                received_at=self.clock(),
            )
        )
        if valid is False and self.require_signature:
            return json_response(401, {"error": "invalid_signature"})
        if self.status == 204:
            return Response(204)
        return json_response(self.status, {"received": True})
