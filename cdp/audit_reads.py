"""Audit rows of reads, made durable while the request goes on instead of before it does.

An audited read (a profile through the API) used to wait for its audit row's commit, a
WAL flush (1-2 ms here, more on network disks), before it even started serializing its
answer. While a request is served on PostgreSQL outside any transaction, the row is now
sent on a second, asynchronous connection of the serving thread: one round trip of the
chain's two statements (cdp.audit), committed as one implicit transaction, which the
server works on while the view serializes and renders. AuditContextMiddleware reads the
outcome before the response leaves, and answers 500 without the data if the row was not
written. So the guarantee is the one of before: nobody gets personal data whose read is
not durably in the chained log. No thread is involved (a Python thread would wait for
the GIL held by the rendering).

Everywhere else (Celery tasks, commands, SQLite, a caller inside a transaction such as a
write that audits, or a test) the row is written at once, in the caller's transaction.
Each serving thread holds one more database session (prepared statements, as cdp.audit).
"""

import contextvars
import select
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg2
import psycopg2.extensions as pg
from django.conf import settings
from django.db import connections, router

from cdp.audit import (
    PG_APPEND_SQL,
    PREPARE_APPEND_SQL,
    PREPARE_LOCK_SQL,
    audit_event,
    audit_fields,
    audit_record,
    pg_append_params,
)
from cdp.models import AuditEvent

_pending: contextvars.ContextVar[list["_Writer"] | None] = contextvars.ContextVar(
    "cdp_audit_reads_pending", default=None)
_local = threading.local()
_open: "weakref.WeakSet[_Writer]" = weakref.WeakSet()


class AuditNotDurable(RuntimeError):
    """An audited read's row could not be written: its answer must not leave."""


class _Writer:
    """A thread's asynchronous connection: one append in flight at a time."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.conn = psycopg2.connect(**params, async_=True)
        self._wait()
        self.cursor = self.conn.cursor()
        self.cursor.execute("SELECT pg_get_serial_sequence('cdp_auditevent', 'id')")
        self._wait()
        sequence = self.cursor.fetchone()[0]
        self.cursor.execute(f"{PREPARE_LOCK_SQL}; {PREPARE_APPEND_SQL}", [sequence])
        self._wait()
        self.in_flight = False
        _open.add(self)

    def _wait(self) -> None:
        while True:
            state = self.conn.poll()
            if state == pg.POLL_OK:
                return
            if state == pg.POLL_READ:
                select.select([self.conn], [], [])
            elif state == pg.POLL_WRITE:
                select.select([], [self.conn], [])

    def send(self, params: list[Any]) -> None:
        self.cursor.execute(PG_APPEND_SQL, params)
        self.in_flight = True

    def finish(self) -> None:
        """Wait for the append in flight, if any; raises what the server answered."""
        if self.in_flight:
            self.in_flight = False
            self._wait()
            self.cursor.fetchone()

    def close(self) -> None:
        if not self.conn.closed:
            self.conn.close()


def _alive(writer: "_Writer | None") -> bool:
    """False for a session the server ended while idle (a restart): reading its socket
    finds the server's goodbye."""
    if writer is None or writer.conn.closed:
        return False
    if writer.in_flight:
        return True
    try:
        # The first poll reads the server's goodbye (a FATAL notice), the second finds
        # the socket closed.
        writer.conn.poll()
        writer.conn.poll()
    except psycopg2.Error:
        writer.close()
        return False
    return True


def _writer() -> "_Writer":
    writer = getattr(_local, "writer", None)
    if not _alive(writer):
        alias = router.db_for_write(AuditEvent)
        writer = _local.writer = _Writer(connections[alias].get_connection_params())
    return writer


def _deferrable(pending: list | None) -> bool:
    if pending is None or not getattr(settings, "CDP_AUDIT_ENABLED", True):
        return False
    connection = connections[router.db_for_write(AuditEvent)]
    return connection.vendor == "postgresql" and not connection.in_atomic_block


def audit_read(**fields: Any) -> None:
    """Record a read of personal data (the arguments of cdp.audit.audit_record)."""
    pending = _pending.get()
    if not _deferrable(pending):
        audit_record(**fields)
        return
    params = pg_append_params(audit_event(audit_fields(**fields)), None)
    writer = _writer()
    writer.finish()  # an earlier read's row first: if it failed, this request fails
    try:
        writer.send(params)
    except psycopg2.Error:
        # A connection gone idle-dead (a server restart): nothing was sent, so once more
        # on a new one; a second failure propagates and fails the request.
        _discard()
        writer = _writer()
        writer.send(params)
    pending.append(writer)


def _discard() -> None:
    writer = getattr(_local, "writer", None)
    _local.writer = None
    if writer is not None:
        writer.close()


@contextmanager
def audited_reads() -> Iterator[list]:
    """Around the serving of one request: reads audited inside may be sent ahead; call
    reads_durable() before the answer leaves."""
    pending: list[_Writer] = []
    token = _pending.set(pending)
    try:
        yield pending
    finally:
        _pending.reset(token)


def reads_durable(pending: list) -> None:
    """Wait for the request's audit rows; AuditNotDurable if one was not written."""
    failure: Exception | None = None
    for writer in pending:
        try:
            writer.finish()
        except psycopg2.Error as exc:
            failure = failure or exc
            writer.close()
    pending.clear()
    if failure is not None:
        # Names the failure kind only: the server's message could quote row values.
        raise AuditNotDurable(f"audit row not written ({type(failure).__name__})") from failure


def writers_close() -> None:
    """Close every thread's audit connection (a test database cannot be dropped while
    they hold a session); the next audited read opens a new one."""
    for writer in list(_open):
        writer.close()
