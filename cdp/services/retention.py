"""Retention (GDPR Art. 5(1)(e)): nothing is kept longer than its configured period.

Nightly (beat, 04:00): events older than CDP_RETENTION_EVENTS_DAYS are deleted, and
profiles inactive for CDP_RETENTION_INACTIVE_DAYS (no event, record update or consent
since) are erased through the erasure path (data keys destroyed, destinations told), but
without suppression: a person who comes back later is simply new. Restricted profiles are
kept (Art. 18: the subject asked for their data to be preserved). Each run writes one
chained audit row with what it did, and erasures their own rows.

Work is chunked in short transactions so ingestion and the API are never blocked long;
an interrupted run is finished by the next one.
"""

import datetime as dt
from dataclasses import asdict, dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from cdp.audit import audit_record
from cdp.models import AuditEvent, ConsentEntry, Event, Profile, SourceRecord
from cdp.services.erasure import profiles_erase

EVENT_CHUNK = 10_000
PROFILE_CHUNK = 500


@dataclass
class RetentionResult:
    events_deleted: int = 0
    profiles_erased: int = 0
    restricted_kept: int = 0
    events_cutoff: str | None = None
    inactive_cutoff: str | None = None
    dry_run: bool = False
    details: dict[str, int] = field(default_factory=dict)


def _old_events(cutoff: dt.datetime) -> int:
    """Delete events before cutoff, type by type so each chunk is an index range scan
    (type, occurred_at) rather than a scan of the whole table."""
    deleted = 0
    types = list(Event.objects.order_by().values_list("type", flat=True).distinct())
    for event_type in types:
        while True:
            with transaction.atomic():
                ids = list(
                    Event.objects.filter(type=event_type, occurred_at__lt=cutoff)
                    .values_list("pk", flat=True)[:EVENT_CHUNK]
                )
                if not ids:
                    break
                deleted += Event.objects.filter(pk__in=ids).delete()[0]
    return deleted


def inactive_profiles(cutoff: dt.datetime) -> QuerySet[Profile]:
    """Profiles created before cutoff with no event, record update or consent since."""
    recent_event = Event.objects.filter(profile=OuterRef("pk"), occurred_at__gte=cutoff)
    recent_record = SourceRecord.objects.filter(profile=OuterRef("pk"), updated_at__gte=cutoff)
    recent_consent = ConsentEntry.objects.filter(
        profile=OuterRef("pk"), captured_at__gte=cutoff
    )
    return (
        Profile.objects.filter(created_at__lt=cutoff)
        .exclude(Exists(recent_event)).exclude(Exists(recent_record))
        .exclude(Exists(recent_consent))
    )


def retention_enforce(
    *, actor: str, now: dt.datetime | None = None, dry_run: bool = False
) -> RetentionResult:
    """Apply both rules; dry_run counts what would go and changes nothing (still audited,
    so the DPO can show the rule was checked)."""
    now = now or timezone.now()
    result = RetentionResult(dry_run=dry_run)
    if settings.CDP_RETENTION_INACTIVE_DAYS:
        cutoff = now - dt.timedelta(days=settings.CDP_RETENTION_INACTIVE_DAYS)
        result.inactive_cutoff = cutoff.isoformat()
        inactive = inactive_profiles(cutoff)
        result.restricted_kept = inactive.filter(restricted_at__isnull=False).count()
        candidates = inactive.filter(restricted_at__isnull=True).order_by("pk")
        if dry_run:
            result.profiles_erased = candidates.count()
        else:
            reason = f"retention: inactive since before {cutoff:%Y-%m-%d}"
            while ids := list(candidates.values_list("pk", flat=True)[:PROFILE_CHUNK]):
                erased = profiles_erase(
                    profile_ids=ids, actor=actor, reason=reason, suppress=False, now=now
                )
                result.profiles_erased += len(erased.profiles)
                for name, count in erased.counts.items():
                    result.details[name] = result.details.get(name, 0) + count
    if settings.CDP_RETENTION_EVENTS_DAYS:
        cutoff = now - dt.timedelta(days=settings.CDP_RETENTION_EVENTS_DAYS)
        result.events_cutoff = cutoff.isoformat()
        if dry_run:
            result.events_deleted = Event.objects.filter(occurred_at__lt=cutoff).count()
        else:
            result.events_deleted = _old_events(cutoff)
    with transaction.atomic():
        audit_record(
            actor=actor, action="retention.dry_run" if dry_run else "retention.purge",
            reason="retention policy",
            details={k: v for k, v in asdict(result).items() if k != "dry_run"},
        )
    return result


@dataclass(frozen=True)
class RetentionRule:
    """One period in force: which setting (environment variable) holds it; 0 is off."""

    name: str
    setting: str
    days: int
    task: str


def retention_rules() -> list[RetentionRule]:
    """The retention periods in force, as settings (read-only: set in the environment)."""
    return [
        RetentionRule("events", "CDP_RETENTION_EVENTS_DAYS",
                      settings.CDP_RETENTION_EVENTS_DAYS, "cdp.tasks.retention_enforce_task"),
        RetentionRule("inactive_profiles", "CDP_RETENTION_INACTIVE_DAYS",
                      settings.CDP_RETENTION_INACTIVE_DAYS, "cdp.tasks.retention_enforce_task"),
        RetentionRule("audit_log", "CDP_AUDIT_RETENTION_DAYS",
                      settings.CDP_AUDIT_RETENTION_DAYS, "cdp.tasks.audit_purge_task"),
    ]


def retention_schedule(task: str) -> str | None:
    """The daily time ("04:00") at which beat runs `task`, from CELERY_BEAT_SCHEDULE."""
    for entry in getattr(settings, "CELERY_BEAT_SCHEDULE", {}).values():
        schedule = entry.get("schedule")
        hours, minutes = getattr(schedule, "hour", None), getattr(schedule, "minute", None)
        if entry.get("task") == task and hours and minutes and len(hours) == len(minutes) == 1:
            return f"{min(hours):02d}:{min(minutes):02d}"
    return None


RUN_ACTIONS = ("retention.purge", "retention.dry_run", "audit.purge")


def retention_runs(limit: int = 10) -> QuerySet[AuditEvent]:
    """The latest retention runs (and audit log purges), newest first, from the audit log."""
    return AuditEvent.objects.filter(action__in=RUN_ACTIONS).order_by("-id")[:limit]
