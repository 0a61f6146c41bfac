"""The one way to write the audit log, and the hash chain behind it.

Every service that touches personal data, consent, identity or segments calls
audit_record() inside its own transaction. Each row stores
row_hash = SHA-256(prev_hash + canonical content), where prev_hash is the row_hash of the
row with the next lower id, so editing or removing any row breaks the chain
(cdp.services.audit_verify finds where).

Chain order is id order: a writer takes a transaction-scoped PostgreSQL advisory lock,
then draws its id and reads the last row's hash, so two writers never chain onto the same
row (this relies on READ COMMITTED, Django's default, where each statement sees what was
committed before it started). The lock is held until the writer's transaction ends: audit
at the end of a long transaction, not at its start. On PostgreSQL the append is one round
trip to two statements prepared once per database session (so it needs session-level
connections, not a transaction-pooling proxy) and the hash is computed in SQL, over the
same canonical text. `at` is read when the writer asks to append, before it waits for the
lock. The SQLite demo has a single writer, takes no lock and hashes in Python.

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
from django.db import DatabaseError, connections, router, transaction
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


_PLAIN = (str, int, bool, type(None))


def audit_details(details: Mapping[str, Any] | None) -> dict[str, Any]:
    """details as they will be read back from the database, so the hash verifies later."""
    if not details:
        return {}
    if all(type(k) is str and type(v) in _PLAIN for k, v in details.items()):
        return dict(details)  # the common case: flat text and integers read back as they are
    return json.loads(json.dumps(details), parse_float=_json_number)


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


# SQLite (demo, one writer, no lock): draw the id and read the last row's hash, then
# INSERT with the hash computed in Python. This form never reuses the ids of purged rows.
_SQLITE_NEXT_SQL = (
    "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'cdp_auditevent'), "
    "0), coalesce((SELECT max(id) FROM cdp_auditevent), 0)) + 1, "
    "(SELECT row_hash FROM cdp_auditevent ORDER BY id DESC LIMIT 1)"
)
_COLUMNS = (*CHAINED_FIELDS, "row_hash")
# A plain INSERT: the ORM's would cost twice the time, and auto_now_add would replace
# the `at` already hashed.
_SQLITE_INSERT_SQL = (
    f"INSERT INTO cdp_auditevent ({', '.join(_COLUMNS)}) "  # noqa: S608 (constant names)
    f"VALUES ({', '.join(['%s'] * len(_COLUMNS))})"
)

# PostgreSQL: the whole append is one round trip of two statements. The lock must be a
# statement of its own: in READ COMMITTED a statement reads with the snapshot taken when it
# started, so a single statement that waits for the lock would not see the row the
# previous holder committed meanwhile, and two writers would chain onto the same row. The
# second statement starts once the lock is granted and gets a fresh snapshot: it draws the
# id, reads the tail's hash, and hashes in SQL the canonical text Python cut around the
# two values only the database knows (_canonical_parts). Both are prepared statements,
# planned once per database session: planning the INSERT costs more than running it.
PREPARE_LOCK_SQL = f"PREPARE cdp_audit_lock AS SELECT pg_advisory_xact_lock({AUDIT_LOCK_KEY})"
PREPARE_APPEND_SQL = (
    "PREPARE cdp_audit_append (timestamptz, text, text, text, text, uuid, jsonb, text, "  # noqa: S608
    "text, text, text, text, text, text) AS "
    "WITH t AS MATERIALIZED (SELECT nextval(%s::regclass) AS id, coalesce($11, "
    "(SELECT row_hash FROM cdp_auditevent ORDER BY id DESC LIMIT 1), '') AS prev) "
    f"INSERT INTO cdp_auditevent ({', '.join(_COLUMNS)}) "
    "SELECT t.id, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, t.prev, encode(sha256(convert_to("
    "t.prev || $12 || t.id || $13 || to_json(t.prev) || $14, 'UTF8')), 'hex') "
    "FROM t RETURNING id, prev_hash, row_hash"
)
PG_APPEND_SQL = f"EXECUTE cdp_audit_lock; EXECUTE cdp_audit_append ({', '.join(['%s'] * 14)})"
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _canonical_parts(row: Mapping[str, Any]) -> tuple[str, str, str]:
    """audit_canonical(row) cut around its id and prev_hash values: the canonical text is
    parts[0] + str(id) + parts[1] + json.dumps(prev_hash) + parts[2]."""
    doc = {name: row[name] for name in CHAINED_FIELDS}
    doc["at"] = _iso(row["at"])
    doc["profile_id"] = str(row["profile_id"]) if row["profile_id"] else None
    doc["id"], doc["prev_hash"] = 0, ""
    text = _ENCODER.encode(doc)
    # The last match is the top-level key: details (which may hold such keys) sorts
    # before both, and every value after them is a string, whose quotes are escaped.
    after_id = text.rindex(',"id":0,') + len(',"id":')
    after_prev = text.rindex(',"prev_hash":"",') + len(',"prev_hash":')
    return text[:after_id], text[after_id + 1:after_prev], text[after_prev + 2:]


def _pg_prepare(connection: Any, cursor: Any) -> None:
    """Prepare the two statements once per database session (they outlive rollbacks)."""
    if getattr(connection, "_cdp_audit_prepared", None) is connection.connection:
        return
    cursor.execute(
        "SELECT pg_get_serial_sequence('cdp_auditevent', 'id'), array(SELECT name FROM "
        "pg_prepared_statements WHERE name IN ('cdp_audit_lock', 'cdp_audit_append'))"
    )
    sequence, present = cursor.fetchone()
    if "cdp_audit_lock" not in present:
        cursor.execute(PREPARE_LOCK_SQL)
    if "cdp_audit_append" not in present:
        cursor.execute(PREPARE_APPEND_SQL, [sequence])
    connection._cdp_audit_prepared = connection.connection


def pg_append_params(event: AuditEvent, prev_hash: str | None) -> list[Any]:
    """The parameters of PG_APPEND_SQL for this row (its details already normalized)."""
    before_id, before_prev, after_prev = _canonical_parts(vars(event))
    return [
        event.at, event.actor, event.action, event.object_type, event.object_id,
        str(event.profile_id) if event.profile_id else None, json.dumps(event.details),
        event.reason, event.request_id, event.ip_prefix, prev_hash, before_id, before_prev,
        after_prev,
    ]


def _pg_append(connection: Any, cursor: Any, event: AuditEvent, prev_hash: str | None) -> None:
    _pg_prepare(connection, cursor)
    try:
        cursor.execute(PG_APPEND_SQL, pg_append_params(event, prev_hash))
    except DatabaseError as exc:
        if getattr(exc.__cause__, "pgcode", None) == "26000":  # statement gone (DISCARD)
            connection._cdp_audit_prepared = None  # the next append prepares it again
        raise
    event.id, event.prev_hash, event.row_hash = cursor.fetchone()


def audit_event(fields: dict[str, Any]) -> AuditEvent:
    """The unsaved row for these stored fields, stamped now, its details normalized as
    they will be read back (so its hash verifies)."""
    event = AuditEvent(at=timezone.now(), **fields)
    event.details = audit_details(event.details)
    return event


def audit_append(*, using: str, prev_hash: str | None = None, **fields: Any) -> AuditEvent:
    """Lock the chain (until the transaction ends) and insert one chained row; call it
    inside an atomic block.

    prev_hash overrides the tail's hash (the retention purge chains its row onto the last
    row it deleted when it deleted them all).
    """
    connection = connections[using]
    event = audit_event(fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            _pg_append(connection, cursor, event, prev_hash)
        else:
            _sqlite_append(cursor, connection, event, prev_hash)
    event._state.adding, event._state.db = False, using
    return event


def _sqlite_append(cursor: Any, connection: Any, event: AuditEvent, prev_hash: str | None) -> None:
    cursor.execute(_SQLITE_NEXT_SQL)
    event.id, tail_hash = cursor.fetchone()
    event.prev_hash = (tail_hash or "") if prev_hash is None else prev_hash
    values = {name: getattr(event, name) for name in CHAINED_FIELDS}
    event.row_hash = audit_hash(event.prev_hash, audit_canonical(values))
    meta = AuditEvent._meta
    cursor.execute(_SQLITE_INSERT_SQL, [
        meta.get_field(name).get_db_prep_save(getattr(event, name), connection)
        for name in _COLUMNS
    ])


def audit_fields(*, actor: str, action: str, object_type: str = "", object_id: str = "",
                 profile_id: uuid.UUID | None = None, details: dict[str, Any] | None = None,
                 reason: str = "", request_id: str = "", ip: str = "") -> dict[str, Any]:
    """A row's stored fields, the request context filled in (see audit_record)."""
    context = _context.get()
    return {
        "actor": actor, "action": action, "object_type": object_type,
        "object_id": str(object_id), "details": details or {},
        "profile_id": uuid.UUID(str(profile_id)) if profile_id else None,
        "reason": reason, "request_id": (request_id or context.request_id)[:64],
        "ip_prefix": ip_truncate(ip) if ip else context.ip_prefix,
    }


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
    fields = audit_fields(
        actor=actor, action=action, object_type=object_type, object_id=object_id,
        profile_id=profile_id, details=details, reason=reason, request_id=request_id, ip=ip)
    if not getattr(settings, "CDP_AUDIT_ENABLED", True):
        return AuditEvent(**fields)
    using = router.db_for_write(AuditEvent)
    # No savepoint: if the audit row fails, the caller's whole transaction must fail.
    with transaction.atomic(using=using, savepoint=False):
        return audit_append(using=using, **fields)
