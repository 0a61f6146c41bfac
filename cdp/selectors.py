"""Read-side queries of the core domain."""

import uuid

from django.db.models import Count, Max, Prefetch

from cdp.models import Profile, Source, SourceRecord


def profile_get(profile_id: uuid.UUID) -> Profile:
    """A profile with its records (and their sources) and event summary; raises DoesNotExist."""
    records = SourceRecord.objects.select_related("source").order_by("id")
    return (
        Profile.objects.annotate(
            event_count=Count("events"), last_event_at=Max("events__occurred_at")
        )
        .prefetch_related(Prefetch("records", queryset=records))
        .get(pk=profile_id)
    )


def source_get(name: str) -> Source | None:
    return Source.objects.filter(name=name).first()
