"""Access and portability requests (GDPR Art. 15, 20): a ZIP of everything held about a
subject, JSON for machines and one CSV per section for people; registered and audited."""

import csv
import io
import json
import uuid
import zipfile
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cdp.audit import audit_record
from cdp.models import Profile, Purpose, SourceRecord, SubjectRequest
from cdp.normalize import NormalizationError
from cdp.privacy.subject_data import subject_sections
from cdp.selectors import profiles_by_identifier


class SubjectNotFound(LookupError):
    """No profile matches the designation (the message never repeats the value)."""


def subject_profiles(
    *, profile_id: str | None = None, email: str | None = None, phone: str | None = None,
    region: str | None = None,
) -> tuple[str, list[uuid.UUID]]:
    """Exactly one designation -> (how it was designated, the matching profile ids)."""
    given = {k: v for k, v in (("profile", profile_id), ("email", email), ("phone", phone)) if v}
    if len(given) != 1:
        raise ValueError("give exactly one of profile id, email or phone")
    ((kind, value),) = given.items()
    if kind == "profile":
        try:
            found = list(Profile.objects.filter(pk=uuid.UUID(str(value)))
                         .values_list("pk", flat=True))
        except ValueError as exc:
            raise SubjectNotFound("not a profile id (UUID)") from exc
    else:
        try:
            found = list(
                profiles_by_identifier(
                    kind, value, region=region or settings.CDP_DEFAULT_PHONE_REGION
                ).values_list("pk", flat=True)
            )
        except NormalizationError as exc:
            raise SubjectNotFound(f"not a valid {kind}") from exc
    if not found:
        raise SubjectNotFound(f"no profile matches this {kind}")
    return kind, found


def _context(profile_ids: list[uuid.UUID]) -> dict[str, Any]:
    """What Art. 15(1) asks besides the data: purposes, sources, recipients, retention."""
    sources = sorted(set(SourceRecord.objects.filter(profile_id__in=profile_ids)
                         .values_list("source__name", flat=True)))
    return {
        "profiles": [str(pid) for pid in profile_ids],
        "generated_at": timezone.now().isoformat(),
        "data_sources": sources,
        "purposes": list(Purpose.objects.values("slug", "name", "description")),
        "retention": {
            "audit_log_days": getattr(settings, "CDP_AUDIT_RETENTION_DAYS", None),
            "events_days": settings.CDP_RETENTION_EVENTS_DAYS or None,
            "profile_after_last_activity_days": settings.CDP_RETENTION_INACTIVE_DAYS or None,
        },
        # Art. 15(1)(h): the scores themselves, with the logic involved, are in the
        # model_scores section (segments), when the person allowed profiling.
        "automated_decisions": (
            "profiling scores, if any, are listed in model_scores with the logic involved; "
            "no decision with legal or similarly significant effects is based on them"
        ),
    }


def _csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    columns = sorted({key for row in rows for key in row})
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: json.dumps(v) if isinstance(v, dict | list) else v
                         for k, v in row.items()})
    return buffer.getvalue()


def dsar_access(
    *, profile_ids: list[uuid.UUID], identified_by: str, actor: str, reason: str = ""
) -> bytes:
    """The subject's archive; the request is registered and audited in one transaction."""
    received = timezone.now()
    sections = subject_sections(profile_ids)
    document = {"subject": _context(profile_ids), **sections}
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("subject.json", json.dumps(document, ensure_ascii=False, indent=1,
                                                   default=str))
        for name, rows in sections.items():
            zipped.writestr(f"{name}.csv", _csv(rows))
    counts = {name: len(rows) for name, rows in sections.items()}
    with transaction.atomic():
        request = SubjectRequest.objects.create(
            kind=SubjectRequest.Kind.ACCESS, identified_by=identified_by,
            profile_ids=[str(pid) for pid in profile_ids], received_at=received,
            answered_at=timezone.now(), handled_by=actor, reason=reason, summary=counts,
        )
        audit_record(
            actor=actor, action="dsar.access", object_type="subject_request",
            object_id=str(request.pk), profile_id=profile_ids[0], reason=reason,
            details={"profiles": len(profile_ids), "identified_by": identified_by, **counts},
        )
    return archive.getvalue()
