"""People's identity decisions: review a pair, unmerge a record. Both are final: later
runs (batch and incremental) honour them as must-link / cannot-link constraints."""

import uuid

from django.db import transaction
from django.utils import timezone

from cdp.audit import audit_record
from cdp.models import SourceRecord
from identity.golden import golden_refresh
from identity.models import IdentityEvent, MatchReview, RecordSplit
from identity.reassign import records_reassign


class AlreadyDecided(ValueError):
    """A review pair is decided once."""


def review_decide(*, review: MatchReview, same_person: bool, actor: str) -> MatchReview:
    """Accept (same person: their profiles merge now) or reject (never linked)."""
    with transaction.atomic():
        review = MatchReview.objects.select_for_update().get(pk=review.pk)
        if review.status != MatchReview.Status.PENDING:
            raise AlreadyDecided("this pair was already decided")
        review.status = (MatchReview.Status.ACCEPTED if same_person
                         else MatchReview.Status.REJECTED)
        review.decided_at, review.decided_by = timezone.now(), actor
        review.save(update_fields=["status", "decided_at", "decided_by"])
        a, b = (SourceRecord.objects.get(pk=review.record_a_id),
                SourceRecord.objects.get(pk=review.record_b_id))
        audit_record(actor=actor, action="identity.review", object_type="match_review",
                     object_id=str(review.pk), profile_id=a.profile_id,
                     details={"decision": review.status, "probability": review.probability,
                              "records": [a.pk, b.pk]})
        if same_person and a.profile_id != b.profile_id:
            # The smaller profile joins the larger one.
            sizes = {pid: SourceRecord.objects.filter(profile_id=pid).count()
                     for pid in (a.profile_id, b.profile_id)}
            keep = max(sizes, key=lambda pid: (sizes[pid], str(pid)))
            gone = b.profile_id if keep == a.profile_id else a.profile_id
            moves = dict.fromkeys(
                SourceRecord.objects.filter(profile_id=gone).values_list("pk", flat=True), keep)
            change = records_reassign(moves=moves, rule="review", actor=actor,
                                      scores=dict.fromkeys(moves, review.probability))
            golden_refresh(profile_ids=change.touched)
    return review


def record_unmerge(*, record: SourceRecord, actor: str, reason: str = "") -> uuid.UUID:
    """Split one record off its profile into a new one, with its events, consents (and so
    segment memberships, re-evaluated); it never joins those records again."""
    with transaction.atomic():
        record = SourceRecord.objects.select_for_update().get(pk=record.pk)
        others = list(SourceRecord.objects.filter(profile_id=record.profile_id)
                      .exclude(pk=record.pk).values_list("pk", flat=True))
        if not others:
            return record.profile_id  # alone already: nothing to split
        RecordSplit.objects.create(record=record, apart_from=others, created_at=timezone.now(),
                                   actor=actor, reason=reason[:300])
        new_id = uuid.uuid4()
        change = records_reassign(moves={record.pk: new_id}, rule="unmerge", actor=actor,
                                  kind=IdentityEvent.Kind.UNMERGE)
        golden_refresh(profile_ids=change.touched)
    return new_id
