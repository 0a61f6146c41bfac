"""Segment writes: validate the rule tree, derive what it depends on, keep its beat
schedule in step, audit the change; all in one transaction."""

from typing import Any

from django.db import transaction

from cdp.audit import audit_record
from cdp.schedules import cron_error, periodic_task_delete, periodic_task_set
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

    error = cron_error(schedule)
    return [RuleError("schedule", error)] if error else []


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
    from segments.ml.registry import segment_model_resolve
    from segments.rules import event_types_of, segments_referenced, validate_definition

    errors = validate_definition(definition, resolve_segment=segment_resolve, self_slug=slug,
                                 resolve_model=segment_model_resolve)
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
        periodic_task_delete(_task_name(segment_id))
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
    periodic_task_set(name=_task_name(segment.pk), schedule=segment.schedule,
                      task=EVALUATE_TASK, args=[segment.pk, "schedule"],
                      enabled=segment.enabled)
