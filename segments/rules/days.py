"""Calendar days in the business time zone (settings.TIME_ZONE, Europe/Paris).

Rules speak in local dates ("2026-03-31", "within the last 7 days"); the database stores
UTC instants. These helpers turn one into the other, so comparisons stay index-friendly
ranges on the timestamp instead of per-row date conversions.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.conf import settings


def local_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def local_date(moment: dt.datetime) -> dt.date:
    """The local calendar date of an aware instant."""
    return moment.astimezone(local_zone()).date()


def day_start(day: dt.date) -> dt.datetime:
    """The aware instant at which a local calendar day starts."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=local_zone())


def next_day_start(day: dt.date) -> dt.datetime:
    """The instant the local day after `day` starts (the exclusive end of `day`)."""
    return day_start(day + dt.timedelta(days=1))
