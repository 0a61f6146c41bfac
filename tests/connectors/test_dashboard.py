"""The marketer's home page rows: each segment's size trend and the last run of every
sync it feeds, in a fixed number of queries."""

from cdp.ui.dashboard import TREND_RUNS, segment_rows
from connectors.engine import sync_run
from connectors.models import SyncRun
from segments.models import Segment, SegmentRun
from segments.services import segment_save


def test_rows_show_the_trend_and_the_last_sync(audience, mailchimp, mailchimp_sync):
    audience.add(2)
    audience.evaluate()
    audience.add(1, start=2)
    audience.evaluate()
    sync_run(sync_id=mailchimp_sync.pk)
    last = sync_run(sync_id=mailchimp_sync.pk)
    row = next(r for r in segment_rows() if r["segment"] == audience.segment)
    sizes = list(SegmentRun.objects.filter(segment=audience.segment, status="succeeded")
                 .order_by("started_at").values_list("size", flat=True))
    assert row["trend"] == sizes[-TREND_RUNS:] and row["trend"][-2:] == [2, 3]
    assert row["delta"] == 1
    assert [s["run"] for s in row["syncs"]] == [SyncRun.objects.get(pk=last.pk)]


def test_queries_do_not_grow_with_segments(audience, mailchimp_sync,
                                           django_assert_max_num_queries):
    audience.evaluate()
    with django_assert_max_num_queries(6):
        segment_rows()
    for n in range(5):
        segment_save(actor="t", name=f"Other {n}", slug=f"other-{n}",
                     definition=Segment.objects.get(pk=audience.segment.pk).definition)
    with django_assert_max_num_queries(6):
        assert len(segment_rows()) == 6
