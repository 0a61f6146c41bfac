"""Read-side queries of segments."""

from django.db.models import QuerySet

from segments.models import Segment, SegmentMembership, SegmentRun


def segment_list() -> QuerySet[Segment]:
    return Segment.objects.prefetch_related("depends_on").order_by("name")


def segment_members(segment: Segment) -> QuerySet[SegmentMembership]:
    """Current members (open stays)."""
    return SegmentMembership.objects.filter(segment=segment, exited_at__isnull=True)


def segment_history(segment: Segment) -> QuerySet[SegmentMembership]:
    """Every stay, open or closed."""
    return SegmentMembership.objects.filter(segment=segment)


def segment_runs(segment: Segment) -> QuerySet[SegmentRun]:
    return SegmentRun.objects.filter(segment=segment).order_by("-started_at")
