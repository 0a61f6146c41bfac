"""Turn one raw consent entry (API item or CSV row) into what the ledger stores; pure.

What proves consent (GDPR Art. 7(1)) is checked here: a known purpose and status, a lawful
basis of Art. 6(1), when it was captured, the notice the person saw (version, and a
SHA-256 of its text). IP address and user agent are kept only as keyed hashes; direct
identifiers (names, email, phone...) are never kept as evidence. Every other field is
evidence (form, campaign, ...). Messages never quote the value.
"""

import datetime as dt
import hashlib
import ipaddress
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from cdp.fields import ENCRYPTED_FIELDS
from cdp.models import ConsentEntry
from cdp.normalize import NormalizationError
from cdp.privacy.crypto import keyed_hash
from cdp.services.subjects import IDENTIFIERS, Identifier, identifier_parse, text_field

LAWFUL_BASES: tuple[str, ...] = (
    "consent", "contract", "legal_obligation", "vital_interests", "public_task",
    "legitimate_interests",
)
STATUSES: tuple[str, ...] = tuple(ConsentEntry.Status.values)
# Evidence keys holding values that may only be kept as keyed hashes.
HASHED_EVIDENCE: dict[str, str] = {
    "ip": "ip_hash", "ip_address": "ip_hash", "user_agent": "user_agent_hash",
    "ua": "user_agent_hash",
}
KNOWN_FIELDS = frozenset({
    "purpose", "status", "lawful_basis", "captured_at", "expires_at", "notice_version",
    "notice_text", "notice_hash", "channel", "evidence", *IDENTIFIERS,
})
_FUTURE_SLACK = dt.timedelta(days=1)
_HEX64 = re.compile(r"[0-9a-f]{64}")
_MAX_EVIDENCE = 4000  # characters of JSON


@dataclass
class ParsedConsent:
    identifier: Identifier
    purpose: str
    status: str
    lawful_basis: str
    captured_at: dt.datetime
    expires_at: dt.datetime | None = None
    channel: str = ""
    notice_version: str = ""
    notice_hash: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class ConsentParseOutcome:
    consent: ParsedConsent | None
    issues: list[tuple[str | None, str]] = field(default_factory=list)


def _choice(raw: Mapping[str, Any], name: str, allowed: Collection[str], what: str,
            default: str | None = None) -> str:
    text = text_field(raw, name, 64)
    if text is None:
        if default is None:
            raise NormalizationError("required")
        return default
    if text not in allowed:
        raise NormalizationError(f"unknown {what}")
    return text


def _moment(raw: Mapping[str, Any], name: str, *, required: bool) -> dt.datetime | None:
    value = raw.get(name)
    if value is None or value == "":
        if required:
            raise NormalizationError("required, as an ISO 8601 date-time")
        return None
    if not isinstance(value, str):
        raise NormalizationError("must be an ISO 8601 date-time")
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise NormalizationError("not an ISO 8601 date-time") from exc
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def _notice_hash(raw: Mapping[str, Any]) -> str:
    text, given = raw.get("notice_text"), text_field(raw, "notice_hash", 64)
    if text is not None and not isinstance(text, str):
        raise NormalizationError("notice_text must be a string")
    if given is not None and not _HEX64.fullmatch(given.lower()):
        raise NormalizationError("notice_hash must be a SHA-256 in hexadecimal")
    digest = hashlib.sha256(text.encode()).hexdigest() if text else (given or "").lower()
    if text and given and given.lower() != digest:
        raise NormalizationError("notice_hash does not match notice_text")
    return digest


def _hashed(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise NormalizationError("must be a non-empty string")
    text = value.strip()
    if HASHED_EVIDENCE[key] == "ip_hash":
        try:
            text = ipaddress.ip_address(text).compressed
        except ValueError as exc:
            raise NormalizationError("not an IP address") from exc
    return keyed_hash(f"{HASHED_EVIDENCE[key]}:{text}")


def _evidence(raw: Mapping[str, Any], issues: list[tuple[str | None, str]]) -> dict[str, Any]:
    """Unknown fields and the "evidence" object; IP and user agent hashed, identifiers out."""
    given = raw.get("evidence") or {}
    if not isinstance(given, dict):
        issues.append(("evidence", "must be an object"))
        given = {}
    extra = {k: v for k, v in raw.items() if k not in KNOWN_FIELDS}
    evidence: dict[str, Any] = {}
    for key, value in {**given, **extra}.items():
        name = key if key in extra else f"evidence.{key}"
        if not isinstance(key, str) or not key or len(key) > 64:
            issues.append(("evidence", "keys are 1 to 64 characters"))
        elif key in ENCRYPTED_FIELDS or key in IDENTIFIERS:
            issues.append((name, "personal data is never kept as evidence"))
        elif key in HASHED_EVIDENCE:
            try:
                evidence[HASHED_EVIDENCE[key]] = _hashed(key, value)
            except NormalizationError as exc:
                issues.append((name, str(exc)))
        elif key in HASHED_EVIDENCE.values():
            issues.append((name, "reserved for keyed hashes"))
        elif value is not None and value != "":
            evidence[key] = value.strip() if isinstance(value, str) else value
    if len(json.dumps(evidence, default=str)) > _MAX_EVIDENCE:
        issues.append(("evidence", f"larger than {_MAX_EVIDENCE} characters"))
        evidence = {}
    return evidence


def _check_times(parsed: dict[str, Any], now: dt.datetime) -> list[tuple[str, str]]:
    captured, expires = parsed.get("captured_at"), parsed.get("expires_at")
    if captured is not None and captured > now + _FUTURE_SLACK:
        return [("captured_at", "in the future")]
    if captured is not None and expires is not None and expires <= captured:
        return [("expires_at", "must be after captured_at")]
    return []


def consent_parse(
    raw: Mapping[str, Any], *, strict: bool, purposes: Collection[str], region: str = "FR",
    now: dt.datetime | None = None,
) -> ConsentParseOutcome:
    """Validate one entry; lenient mode drops unusable evidence instead of the entry."""
    now = now or timezone.now()
    issues: list[tuple[str | None, str]] = []
    parsed: dict[str, Any] = {}
    steps = (
        ("identifier", lambda: identifier_parse(raw, region)),
        ("purpose", lambda: _choice(raw, "purpose", purposes, "purpose")),
        ("status", lambda: _choice(raw, "status", STATUSES, "status")),
        ("lawful_basis", lambda: _choice(raw, "lawful_basis", LAWFUL_BASES,
                                         "lawful basis (GDPR Art. 6(1))", "consent")),
        ("captured_at", lambda: _moment(raw, "captured_at", required=True)),
        ("expires_at", lambda: _moment(raw, "expires_at", required=False)),
        ("channel", lambda: text_field(raw, "channel", 32) or ""),
        ("notice_version", lambda: text_field(raw, "notice_version", 32) or ""),
        ("notice_hash", lambda: _notice_hash(raw)),
    )
    for name, step in steps:
        try:
            parsed[name] = step()
        except NormalizationError as exc:
            issues.append((name, str(exc)))
    issues.extend(_check_times(parsed, now))
    if (parsed.get("status") == "granted" and parsed.get("lawful_basis") == "consent"
            and parsed.get("notice_version") == ""):
        issues.append(("notice_version", "required to prove a consent"))
    # A problem with evidence loses that evidence, not the entry (in lenient mode).
    soft: list[tuple[str | None, str]] = []
    evidence = _evidence(raw, soft)
    if issues or (strict and soft):
        return ConsentParseOutcome(None, issues + soft)
    return ConsentParseOutcome(ParsedConsent(**parsed, evidence=evidence), soft)
