"""Preview a draft definition (count and masked sample) and explain one profile's result."""

import uuid
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from cdp.models import AuditEvent, Profile, SourceRecord
from cdp.privacy.crypto import decrypt

SAMPLE_SIZE = 10


def mask_email(email: str | None) -> str | None:
    """j***@o***.fr: enough to recognise a pattern, not to contact anyone."""
    if not email or "@" not in email:
        return None
    local, domain = email.split("@", 1)
    name, _, tld = domain.rpartition(".")
    return f"{local[:1]}***@{name[:1]}***.{tld}"


def segment_preview(
    *, definition: dict, actor: str, now: datetime | None = None
) -> dict[str, Any]:
    """Size of a draft (valid) definition and a masked sample, without saving; audited."""
    from segments.rules import compile_definition

    now = now or timezone.now()
    members = Profile.objects.filter(compile_definition(definition, now=now))
    count = members.count()
    sample_ids = list(members.order_by("pk").values_list("pk", flat=True)[:SAMPLE_SIZE])
    records = (
        SourceRecord.objects.filter(profile_id__in=sample_ids)
        .order_by("profile_id", "id")
        .values_list("profile_id", "city", "email_enc")
    )
    first: dict[uuid.UUID, dict[str, Any]] = {}
    for profile_id, city, email_enc in records:
        entry = first.setdefault(profile_id, {"city": None, "email": None})
        entry["city"] = entry["city"] or city
        entry["email"] = entry["email"] or mask_email(decrypt(email_enc, field="email"))
    with transaction.atomic():
        AuditEvent.objects.create(
            actor=actor, action="segment.preview", object_type="segment",
            details={"definition": definition, "count": count, "sample": len(sample_ids)},
        )
    sample = [{"profile_id": str(pid), **first.get(pid, {})} for pid in sample_ids]
    return {"count": count, "sample": sample}
