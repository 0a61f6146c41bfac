"""Segment writes: validate the rule tree, derive what it depends on, keep its beat
schedule in step, audit the change; all in one transaction."""

import json
from typing import Any

from celery.schedules import crontab
from django.conf import settings
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from cdp.audit import audit_record
from segments.models import Segment

EVALUATE_TASK = "segments.tasks.segment_evaluate_task"


class SegmentInvalid(ValueError):
    """The definition (or schedule) is refused; errors carry JSON paths and messages."""

    def __init__(self, errors: list) -> None:
        super().__init__("; ".join(f"{e.path}: {e.message}" for e in errors))
        self.errors = errors


def segment_resolve(ref: str | int) -> Segment | None:
    """A segment by id or slug, as rule trees reference them."""
    text = str(ref)
    if text.isdigit():
        return Segment.objects.filter(pk=int(text)).first()
    return Segment.objects.filter(slug=text).first()


def _schedule_errors(schedule: str) -> list:
    from segments.rules import RuleError

    if not schedule:
        return []
    parts = schedule.split()
    if len(parts) != 5:
        return [RuleError("schedule", "a cron expression has 5 fields: min hour day month wday")]
    try:
        crontab(*parts)
    except ValueError as exc:
        return [RuleError("schedule", f"invalid cron expression: {exc}")]
    return []


def segment_save(
    *,
    actor: str,
    name: str,
    slug: str,
    definition: Any,
    segment: Segment | None = None,
    description: str = "",
    schedule: str = "0 * * * *",
    enabled: bool = True,
) -> Segment:
    """Create or update a segment; raises SegmentInvalid with every problem found."""
    from segments.rules import event_types_of, segments_referenced, validate_definition

    errors = validate_definition(definition, resolve_segment=segment_resolve, self_slug=slug)
    errors += _schedule_errors(schedule)
    if errors:
        raise SegmentInvalid(errors)
    creating = segment is None
    segment = segment or Segment()
    with transaction.atomic():
        segment.name, segment.slug, segment.description = name, slug, description
        segment.definition, segment.schedule, segment.enabled = definition, schedule, enabled
        segment.event_types = sorted(event_types_of(definition))
        segment.save()
        segment.depends_on.set(
            [s for s in map(segment_resolve, segments_referenced(definition)) if s]
        )
        _sync_schedule(segment)
        audit_record(
            actor=actor,
            action="segment.create" if creating else "segment.update",
            object_type="segment",
            object_id=str(segment.pk),
            details={"slug": slug, "definition": definition, "schedule": schedule},
        )
    return segment


def segment_delete(*, segment: Segment, actor: str) -> None:
    segment_id = segment.pk
    with transaction.atomic():
        PeriodicTask.objects.filter(name=_task_name(segment_id)).delete()
        segment.delete()
        # Last: the audit row holds the chain's lock until commit, so not during the
        # cascade over the membership history.
        audit_record(
            actor=actor, action="segment.delete", object_type="segment",
            object_id=str(segment_id), details={"slug": segment.slug},
        )


def _task_name(segment_id: int) -> str:
    return f"segment-evaluate:{segment_id}"


def _sync_schedule(segment: Segment) -> None:
    """One PeriodicTask per scheduled segment, editable in the beat admin too."""
    name = _task_name(segment.pk)
    if not segment.schedule or not segment.enabled:
        PeriodicTask.objects.filter(name=name).delete()
        return
    minute, hour, day, month, weekday = segment.schedule.split()
    schedule, _ = CrontabSchedule.objects.get_or_create(
        minute=minute, hour=hour, day_of_month=day, month_of_year=month,
        day_of_week=weekday, timezone=settings.TIME_ZONE,
    )
    PeriodicTask.objects.update_or_create(
        name=name,
        defaults={
            "task": EVALUATE_TASK,
            "crontab": schedule,
            "interval": None,
            "args": json.dumps([segment.pk, "schedule"]),
            "enabled": True,
        },
    )
