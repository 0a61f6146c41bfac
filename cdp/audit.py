"""The one way to write the audit log (the privacy issue's hash chain lives behind it).

Every service that touches personal data, consent, identity or segments calls
audit_record() inside its own transaction.
"""

import uuid
from typing import Any

from cdp.models import AuditEvent


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
    """Append one audit row. (Chaining and IP truncation: see the audit-chain work.)"""
    return AuditEvent.objects.create(
        actor=actor, action=action, object_type=object_type, object_id=object_id,
        profile_id=profile_id, details=details or {}, reason=reason, request_id=request_id,
        ip_prefix=ip,
    )
