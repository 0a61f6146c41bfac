"""Cron schedules of user-defined objects (segments, syncs) as django-celery-beat tasks.

One PeriodicTask per scheduled object, named after it, so beat picks changes up without a
restart and the schedule is visible (and pausable) in the beat admin too.
"""

import json
from typing import Any

from celery.schedules import crontab
from django.conf import settings
from django_celery_beat.models import CrontabSchedule, PeriodicTask


def cron_error(schedule: str) -> str | None:
    """Why a cron expression (minute hour day month weekday) is invalid; None if valid."""
    if not schedule:
        return None
    parts = schedule.split()
    if len(parts) != 5:
        return "a cron expression has 5 fields: min hour day month wday"
    try:
        crontab(*parts)
    except ValueError as exc:
        return f"invalid cron expression: {exc}"
    return None


def periodic_task_set(*, name: str, schedule: str, task: str, args: list[Any],
                      enabled: bool) -> None:
    """Create, update or (schedule empty / disabled) delete the named periodic task."""
    if not schedule or not enabled:
        PeriodicTask.objects.filter(name=name).delete()
        return
    minute, hour, day, month, weekday = schedule.split()
    crontab_row, _ = CrontabSchedule.objects.get_or_create(
        minute=minute, hour=hour, day_of_month=day, month_of_year=month,
        day_of_week=weekday, timezone=settings.TIME_ZONE,
    )
    PeriodicTask.objects.update_or_create(
        name=name,
        defaults={"task": task, "crontab": crontab_row, "interval": None,
                  "args": json.dumps(args), "enabled": True},
    )


def periodic_task_delete(name: str) -> None:
    PeriodicTask.objects.filter(name=name).delete()
