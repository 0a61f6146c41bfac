"""Shared machinery of the fake vendor servers: a live HTTP server on a free loopback port.

A vendor fake subclasses `FakeServer`, registers its routes and overrides a few hooks
(`check` for auth, `error` / `throttled` / `server_error` for the vendor's error shapes).
The base gives every fake the same lifecycle, request log, limits and injectable faults,
so connector tests exercise their retry paths over real sockets.

Faithful: real TCP on 127.0.0.1, HTTP/1.1 keep-alive, one thread per connection (so
concurrent clients really overlap), a fixed service time per call, a cap on in-flight
requests, a sliding-window rate limit, 5xx answers, late answers, connections closed
without an answer, and writes applied before a failed answer.
Simplified: `Retry-After` is whole seconds; a rejected call (401, 429) costs no service time.
"""

from __future__ import annotations

import json
import math
import random
import re
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from http import HTTPStatus
from typing import Any, Self
from urllib.parse import parse_qsl, unquote, urlsplit

from tests.fakes.wire import (
    Abort,
    JSONBodyError,
    Request,
    Response,
    Server,
    json_response,
)

__all__ = [
    "Abort",
    "FakeServer",
    "Faults",
    "JSONBodyError",
    "Limits",
    "Request",
    "RequestRecord",
    "Response",
    "json_response",
]

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
REDACTED_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
Handler = Callable[[Request], Response]


@dataclass
class RequestRecord:
    """What the fake saw and answered; tests assert batch sizes, pacing and PII from it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    write: bool
    started: float
    status: int | None = None  # None: the connection was closed without an answer
    fault: str | None = None  # concurrency, rate_limit, auth_expired, drop, 5xx, ...
    duration: float = 0.0

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Faults:
    """Injectable faults. `*_next` counters win over `*_rate` draws from the seeded RNG.

    `match` restricts faults to the requests it accepts (e.g. only batch calls).
    A write-then-fail applies the write, then answers a 5xx (or drops, `write_then_drop=True`)
    so tests can prove that retries are idempotent.
    """

    fail_rate: float = 0.0
    fail_next: int = 0
    fail_statuses: tuple[int, ...] = (500, 502, 503, 504)
    slow_rate: float = 0.0
    slow_next: int = 0
    slow_delay: float = 0.0
    drop_rate: float = 0.0
    drop_next: int = 0
    write_then_fail_rate: float = 0.0
    write_then_fail_next: int = 0
    write_then_drop: bool = False
    auth_expired_next: int = 0
    match: Callable[[Request], bool] | None = None


@dataclass
class Limits:
    """Vendor limits: in-flight cap, sliding-window rate (`rate_limit` calls per
    `rate_window` s), whether 429s carry `Retry-After`, and a fixed service time per call."""

    max_concurrent: int | None = None
    rate_limit: int | None = None
    rate_window: float = 1.0
    retry_after: bool = True
    service_time: float = 0.0


@dataclass
class _Plan:
    drop: bool = False
    fail: int | None = None
    slow: bool = False
    write_then_fail: bool = False


class _SlidingWindow:
    def __init__(self) -> None:
        self.admitted: deque[float] = deque()

    def admit(self, limit: int, window: float, now: float) -> float | None:
        """Record the call and return None, or return how long until a slot frees."""
        while self.admitted and self.admitted[0] <= now - window:
            self.admitted.popleft()
        if len(self.admitted) < limit:
            self.admitted.append(now)
            return None
        return self.admitted[0] + window - now


class FakeServer:
    """Base of the vendor fakes: lifecycle, routing, limits, faults and the request log."""

    def __init__(
        self,
        *,
        faults: Faults | None = None,
        limits: Limits | None = None,
        seed: int = 0,
        log_bodies: bool = True,
    ) -> None:
        self.faults = faults or Faults()
        self.limits = limits or Limits()
        self.log_bodies = log_bodies
        self.lock = threading.RLock()  # vendor state; handlers run under it
        self.errors: list[str] = []  # tracebacks of handler crashes: a bug in the fake
        self.peak_in_flight = 0
        self._seed = seed
        self._rng = random.Random(seed)
        self._control = threading.Lock()  # log, counters, RNG, rate window
        self._log: list[RequestRecord] = []
        self._in_flight = 0
        self._window = _SlidingWindow()
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # -- lifecycle ------------------------------------------------------------------
    def start(self) -> Self:
        if self._server is not None:
            return self
        self._stopping = threading.Event()
        self._server = Server(self, ("127.0.0.1", 0))
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()  # wakes handlers sleeping on service time or slow faults
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the fake is not started")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- control API for tests --------------------------------------------------------
    def inject(self, **changes: Any) -> None:
        """Change faults at run time, e.g. `fake.inject(fail_next=2)`."""
        with self._control:
            self.faults = replace(self.faults, **changes)

    def set_limits(self, **changes: Any) -> None:
        with self._control:
            self.limits = replace(self.limits, **changes)
            self._window = _SlidingWindow()

    def reset(self) -> None:
        """Forget vendor state, the log and faults (limits stay), as a fresh fake would."""
        with self._control:
            self.faults = Faults()
            self._log.clear()
            self._window = _SlidingWindow()
            self._rng = random.Random(self._seed)
            self.peak_in_flight = 0
        with self.lock:
            self.errors.clear()
            self.reset_state()

    def requests(
        self,
        *,
        method: str | None = None,
        path: str | None = None,
        write: bool | None = None,
        status: int | None = None,
    ) -> list[RequestRecord]:
        """The request log, filtered; `path` is a regular expression searched in the path."""
        with self._control:
            records = list(self._log)
        return [
            r
            for r in records
            if (method is None or r.method == method)
            and (path is None or re.search(path, r.path))
            and (write is None or r.write == write)
            and (status is None or r.status == status)
        ]

    def clear_log(self) -> None:
        with self._control:
            self._log.clear()

    # -- hooks for vendor fakes -------------------------------------------------------
    def add_route(self, method: str, pattern: str, handler: Handler) -> None:
        """Route `method` on paths fully matching `pattern` (named groups become params)."""
        self._routes.append((method, re.compile(pattern), handler))

    def reset_state(self) -> None:
        """Drop vendor state (called under `self.lock`)."""

    def is_write(self, request: Request) -> bool:
        return request.method in WRITE_METHODS

    def check(self, request: Request) -> Response | None:
        """Authenticate and run other vendor checks before routing; a Response refuses."""
        return None

    def error(self, request: Request, status: int, code: str, message: str) -> Response:
        return json_response(status, {"error": code, "message": message})

    def throttled(self, request: Request) -> Response:
        return self.error(request, 429, "TooManyRequests", "Too many requests.")

    def auth_expired(self, request: Request) -> Response:
        return self.error(request, 401, "Unauthorized", "The credentials have expired.")

    def server_error(self, request: Request, status: int) -> Response:
        return self.error(request, status, "ServerError", HTTPStatus(status).phrase)

    def bad_json(self, request: Request) -> Response:
        return self.error(request, 400, "BadRequest", "The request body is not valid JSON.")

    def not_found(self, request: Request) -> Response:
        return self.error(request, 404, "NotFound", "The requested resource was not found.")

    def method_not_allowed(self, request: Request, allowed: Iterable[str]) -> Response:
        response = self.error(request, 405, "MethodNotAllowed", "Method not allowed.")
        response.headers["Allow"] = ", ".join(sorted(set(allowed)))
        return response

    def finalize(self, request: Request, response: Response) -> None:
        """Add headers every answer carries (request ids, rate-limit headers)."""

    # -- request pipeline -------------------------------------------------------------
    def dispatch(self, request: Request) -> Response:
        """Route one request to its handler under the state lock (no faults, no limits).

        Also used by vendor fakes to run the operations of an asynchronous batch.
        """
        allowed = []
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(request.path)
            if match is None:
                continue
            if method != request.method:
                allowed.append(method)
                continue
            params = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
            try:
                with self.lock:
                    return handler(replace(request, params=params))
            except Abort as abort:
                return abort.response
            except JSONBodyError:
                return self.bad_json(request)
            except Exception:  # a crash of the fake is answered as a 500 and kept for tests
                self.errors.append(traceback.format_exc())
                return self.server_error(request, 500)
        return self.method_not_allowed(request, allowed) if allowed else self.not_found(request)

    def handle_http(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> Response | None:
        split = urlsplit(target)
        request = Request(method, split.path, dict(parse_qsl(split.query, True)), headers, body)
        record = RequestRecord(
            method=method,
            path=split.path,
            query=request.query,
            headers={k: "<redacted>" if k in REDACTED_HEADERS else v for k, v in headers.items()},
            body=body if self.log_bodies else b"",
            write=self.is_write(request),
            started=time.monotonic(),
        )
        with self._control:
            self._log.append(record)
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
            over = self.limits.max_concurrent is not None and (
                self._in_flight > self.limits.max_concurrent
            )
        try:
            try:
                response = self._pipeline(request, record, over)
            except Exception:  # a crash of the fake: answer 500 and keep it for the tests
                self.errors.append(traceback.format_exc())
                response = self.server_error(request, 500)
            if response is not None:
                self.finalize(request, response)
                record.status = response.status
            return response
        finally:
            with self._control:
                self._in_flight -= 1
            record.duration = time.monotonic() - record.started

    def _pipeline(self, request: Request, record: RequestRecord, over: bool) -> Response | None:
        if over:
            record.fault = "concurrency"
            return self._throttle(request, 1.0)
        if self._take_auth_expired(request):
            record.fault = "auth_expired"
            return self.auth_expired(request)
        refusal = self.check(request)
        if refusal is not None:
            return refusal
        wait = self._rate_check()
        if wait is not None:
            record.fault = "rate_limit"
            return self._throttle(request, wait)
        plan = self._draw(request, record.write)
        if self.limits.service_time:
            self._stopping.wait(self.limits.service_time)
        if plan.drop:
            record.fault = "drop"
            return None
        if plan.fail is not None:
            record.fault = "5xx"
            return self.server_error(request, plan.fail)
        response = self.dispatch(request)
        if plan.write_then_fail and response.status < 400:
            record.fault = "write_then_fail"
            if self.faults.write_then_drop:
                return None
            with self._control:
                status = self._choose_status()
            response = self.server_error(request, status)
        if plan.slow:
            record.fault = record.fault or "slow"
            self._stopping.wait(self.faults.slow_delay)
        return response

    def _throttle(self, request: Request, wait: float) -> Response:
        response = self.throttled(request)
        if self.limits.retry_after:
            response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
        return response

    def _rate_check(self) -> float | None:
        limits = self.limits
        if limits.rate_limit is None:
            return None
        with self._control:
            return self._window.admit(limits.rate_limit, limits.rate_window, time.monotonic())

    def _take_auth_expired(self, request: Request) -> bool:
        with self._control:
            faults = self.faults
            if faults.auth_expired_next <= 0 or (faults.match and not faults.match(request)):
                return False
            faults.auth_expired_next -= 1
            return True

    def _draw(self, request: Request, write: bool) -> _Plan:
        """Decide this call's faults under the control lock, so counters and draws stay exact."""
        with self._control:
            faults = self.faults
            plan = _Plan()
            if faults.match is not None and not faults.match(request):
                return plan
            plan.drop = self._hit("drop")
            if not plan.drop and self._hit("fail"):
                plan.fail = self._choose_status()
            plan.slow = self._hit("slow")
            plan.write_then_fail = write and self._hit("write_then_fail")
            return plan

    def _hit(self, name: str) -> bool:
        faults = self.faults
        pending = getattr(faults, f"{name}_next")
        if pending > 0:
            setattr(faults, f"{name}_next", pending - 1)
            return True
        rate = getattr(faults, f"{name}_rate")
        return rate > 0 and self._rng.random() < rate

    def _choose_status(self) -> int:
        return self._rng.choice(self.faults.fail_statuses)
