"""The one way to write the audit log, and the hash chain behind it.

Every service that touches personal data, consent, identity or segments calls
audit_record() inside its own transaction. Each row stores
row_hash = SHA-256(prev_hash + canonical content), where prev_hash is the row_hash of the
row with the next lower id, so editing or removing any row breaks the chain
(cdp.services.audit_verify finds where).

Chain order is id order: a writer takes a transaction-scoped PostgreSQL advisory lock,
then draws its id and reads the last row's hash, so two writers never chain onto the same
row. The lock is held until the writer's transaction ends: audit at the end of a long
transaction, not at its start. The SQLite demo has a single writer and takes no lock.

Request context (request id, truncated client IP) comes from cdp.middleware through a
contextvar, so services need not pass it along.
"""

import hashlib
import ipaddress
import json
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connections, router, transaction
from django.utils import timezone

from cdp.models import AuditEvent

# pg_advisory_xact_lock key shared by every audit writer ("cdpaudit" in ASCII).
AUDIT_LOCK_KEY = 0x6364_7061_7564_6974
# The fields the hash covers, in the canonical document (row_hash itself excluded).
CHAINED_FIELDS = (
    "id", "at", "actor", "action", "object_type", "object_id", "profile_id", "details",
    "reason", "request_id", "ip_prefix", "prev_hash",
)


@dataclass(frozen=True)
class AuditContext:
    """What the current request (or task) adds to every audit row it writes."""

    request_id: str = ""
    ip_prefix: str = ""


_NO_CONTEXT = AuditContext()
_context: ContextVar[AuditContext] = ContextVar("cdp_audit_context", default=_NO_CONTEXT)


@contextmanager
def audit_context(*, request_id: str = "", ip: str = "") -> Iterator[AuditContext]:
    """Audit rows written inside carry this request id and truncated IP."""
    token = _context.set(AuditContext(request_id=request_id[:64], ip_prefix=ip_truncate(ip)))
    try:
        yield _context.get()
    finally:
        _context.reset(token)


def ip_truncate(value: str) -> str:
    """The network of an address: IPv4 to /24, IPv6 to /48; '' if it is not an address.

    The full address is personal data the audit log does not need; the prefix still shows
    where a request came from.
    """
    try:
        network = ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        return ""
    address = network.network_address
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
        bits = min(24, max(network.prefixlen - 96, 0))
    else:
        bits = min(24 if address.version == 4 else 48, network.prefixlen)
    return str(ipaddress.ip_network(f"{address}/{bits}", strict=False))


def _json_number(text: str) -> float | int:
    """Parse a JSON float as PostgreSQL's jsonb will give it back: it keeps numbers as
    exact decimals and prints 1e+20 as 100000000000000000000, which reads back as an int."""
    if "e" in text.lower():
        exact = Decimal(text)
        if exact == exact.to_integral_value():
            return int(exact)
    return float(text)


def audit_details(details: Mapping[str, Any] | None) -> dict[str, Any]:
    """details as they will be read back from the database, so the hash verifies later."""
    return json.loads(json.dumps(details or {}), parse_float=_json_number)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def audit_canonical(row: Mapping[str, Any]) -> str:
    """The hashed form of a row: JSON with sorted keys, the same whether the values come
    from the writer or are read back from the database."""
    doc = {name: row[name] for name in CHAINED_FIELDS}
    doc["at"] = _iso(row["at"])
    doc["profile_id"] = str(row["profile_id"]) if row["profile_id"] else None
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def audit_hash(prev_hash: str, canonical: str) -> str:
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def audit_lock(using: str) -> None:
    """Serialize audit writers until the current transaction ends (PostgreSQL only)."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [AUDIT_LOCK_KEY])


# Take the lock, then draw an id and read the last row's hash. On PostgreSQL both go in
# one round trip as two statements: the second gets its own snapshot, taken after the lock
# was granted, so it sees the previous holder's committed row. SQLite (demo): one writer,
# no lock; its form never reuses the ids of purged rows.
_NEXT_SQL = {
    "postgresql": (
        f"SELECT pg_advisory_xact_lock({AUDIT_LOCK_KEY}); "  # noqa: S608 (a constant)
        "SELECT nextval(pg_get_serial_sequence('cdp_auditevent', 'id')), "
        "(SELECT row_hash FROM cdp_auditevent ORDER BY id DESC LIMIT 1)"
    ),
    "sqlite": (
        "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'cdp_auditevent'), "
        "0), coalesce((SELECT max(id) FROM cdp_auditevent), 0)) + 1, "
        "(SELECT row_hash FROM cdp_auditevent ORDER BY id DESC LIMIT 1)"
    ),
}
_COLUMNS = (*CHAINED_FIELDS, "row_hash")
# A plain INSERT: the ORM's would cost twice the time, and auto_now_add would replace
# the `at` already hashed.
_INSERT_SQL = (
    f"INSERT INTO cdp_auditevent ({', '.join(_COLUMNS)}) "  # noqa: S608 (constant names)
    f"VALUES ({', '.join(['%s'] * len(_COLUMNS))})"
)


def audit_append(*, using: str, prev_hash: str | None = None, **fields: Any) -> AuditEvent:
    """Lock the chain (until the transaction ends) and insert one chained row; call it
    inside an atomic block.

    prev_hash overrides the tail's hash (the retention purge chains its row onto the last
    row it deleted when it deleted them all).
    """
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute(_NEXT_SQL[connection.vendor])
        next_id, tail_hash = cursor.fetchone()
        event = AuditEvent(id=next_id, at=timezone.now(), **fields)
        event.details = audit_details(event.details)
        event.prev_hash = (tail_hash or "") if prev_hash is None else prev_hash
        values = {name: getattr(event, name) for name in CHAINED_FIELDS}
        event.row_hash = audit_hash(event.prev_hash, audit_canonical(values))
        meta = AuditEvent._meta
        cursor.execute(_INSERT_SQL, [
            meta.get_field(name).get_db_prep_save(getattr(event, name), connection)
            for name in _COLUMNS
        ])
    event._state.adding, event._state.db = False, using
    return event


def audit_record(
    *,
    actor: str,
    action: str,
    object_type: str = "",
    object_id: str = "",
    profile_id: uuid.UUID | None = None,
    details: dict[str, Any] | None = None,
    reason: str = "",
    request_id: str = "",
    ip: str = "",
) -> AuditEvent:
    """Append one chained audit row, in the caller's transaction if there is one.

    request_id and ip default to the current request's (see cdp.middleware); ip is
    truncated before it is stored. With settings.CDP_AUDIT_ENABLED off (benchmarks only)
    nothing is written and an unsaved row is returned.
    """
    context = _context.get()
    fields = {
        "actor": actor, "action": action, "object_type": object_type,
        "object_id": str(object_id), "details": details or {},
        "profile_id": uuid.UUID(str(profile_id)) if profile_id else None,
        "reason": reason, "request_id": (request_id or context.request_id)[:64],
        "ip_prefix": ip_truncate(ip) if ip else context.ip_prefix,
    }
    if not getattr(settings, "CDP_AUDIT_ENABLED", True):
        return AuditEvent(**fields)
    using = router.db_for_write(AuditEvent)
    # No savepoint: if the audit row fails, the caller's whole transaction must fail.
    with transaction.atomic(using=using, savepoint=False):
        return audit_append(using=using, **fields)
