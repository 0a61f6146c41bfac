"""Preview a draft definition (count and masked sample) and explain one profile's result."""

import uuid
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Count, Window
from django.utils import timezone

from cdp.audit import audit_record
from cdp.db import analytic_memory
from cdp.models import Profile, SourceRecord
from cdp.privacy.crypto import decrypt
from cdp.privacy.datakeys import data_keys_load
from cdp.privacy.masking import mask_email

SAMPLE_SIZE = 10


def segment_preview(
    *, definition: dict, actor: str, now: datetime | None = None
) -> dict[str, Any]:
    """Size of a draft (valid) definition and a masked sample, without saving; audited."""
    from segments.rules import compile_definition

    now = now or timezone.now()
    # As evaluation does: a restricted profile (GDPR Art. 18) is in no segment.
    members = Profile.objects.filter(compile_definition(definition, now=now),
                                     restricted_at__isnull=True)
    # One pass: the window count rides along with the sample. No ORDER BY: "first by id"
    # would make PostgreSQL walk every matching event in profile order.
    with transaction.atomic():
        analytic_memory()
        rows = list(
            members.annotate(total=Window(Count("pk"))).order_by()
            .values_list("pk", "total")[:SAMPLE_SIZE]
        )
    count = rows[0][1] if rows else 0
    sample_ids = [pk for pk, _ in rows]
    records = (
        SourceRecord.objects.filter(profile_id__in=sample_ids)
        .order_by("profile_id", "id")
        .values_list("profile_id", "city", "email_enc", "data_key_id")
    )
    keys = data_keys_load(row[3] for row in records)
    first: dict[uuid.UUID, dict[str, Any]] = {}
    for profile_id, city, email_enc, key_id in records:
        entry = first.setdefault(profile_id, {"city": None, "email": None})
        entry["city"] = entry["city"] or city
        email = decrypt(email_enc, field="email", key=keys.get(key_id)) if email_enc else None
        entry["email"] = entry["email"] or mask_email(email, keep_domain=False)
    with transaction.atomic():
        audit_record(
            actor=actor, action="segment.preview", object_type="segment",
            details={"definition": definition, "count": count, "sample": len(sample_ids)},
        )
    sample = [{"profile_id": str(pid), **first.get(pid, {})} for pid in sample_ids]
    return {"count": count, "sample": sample}
