"""The review pair page: both records side by side, the probability and the per-comparison
explanation. Opening a pair reads both records: one audit row per record (each names its
own profile), masked for roles that may not read them in clear."""

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from cdp.audit import audit_record
from cdp.fields import STANDARD_FIELDS
from cdp.models import SourceRecord
from cdp.privacy.masking import mask_personal
from cdp.services.profiles import record_plain
from identity.models import IdentityModel, MatchReview
from identity.ui.charts import waterfall_svg
from identity.ui.labels import field_label
from identity.ui.pairs import pair_scores, prior_weight


@dataclass
class ReviewPair:
    review: MatchReview
    records: tuple[SourceRecord, SourceRecord]
    rows: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict] = field(default_factory=list)
    prior: float | None = None
    waterfall: str = ""
    same_profile: bool = False
    masked: bool = True


def _model_for(review: MatchReview) -> IdentityModel | None:
    models = IdentityModel.objects.only("version", "splink_model")
    if review.model_version is not None:
        found = models.filter(version=review.model_version).first()
        if found is not None:
            return found
    return models.filter(active=True).first()


def _explanation(review: MatchReview, model: IdentityModel | None) -> list[dict]:
    """The stored explanation; incremental matching queues pairs without one, so those
    are explained now with the model that scored them."""
    if review.explanation or model is None:
        return list(review.explanation)
    scores = pair_scores(record_ids=[review.record_a_id, review.record_b_id], model=model)
    return list(scores[0].steps) if scores else []


def review_pair(*, review: MatchReview, actor: str, masked: bool) -> ReviewPair:
    """What the pair page shows; the read audited once per record."""
    a, b = (SourceRecord.objects.select_related("source").get(pk=pk)
            for pk in (review.record_a_id, review.record_b_id))
    with transaction.atomic():
        plain = [record_plain(a), record_plain(b)]
        for record in (a, b):
            audit_record(actor=actor, action="record.view", object_type="source_record",
                         object_id=str(record.pk), profile_id=record.profile_id,
                         details={"via": "review", "review": review.pk, "masked": masked})
    shown = [mask_personal(v) for v in plain] if masked else plain
    rows = []
    for name in STANDARD_FIELDS:
        left, right = shown[0].get(name), shown[1].get(name)
        if left in (None, "") and right in (None, ""):
            continue
        same = None
        if plain[0].get(name) not in (None, "") and plain[1].get(name) not in (None, ""):
            same = str(plain[0][name]).strip().lower() == str(plain[1][name]).strip().lower()
        rows.append({"field": name, "label": field_label(name), "a": left, "b": right,
                     "same": same})
    model = _model_for(review)
    steps = _explanation(review, model)
    prior = prior_weight(model.splink_model) if model else None
    return ReviewPair(review=review, records=(a, b), rows=rows, steps=steps, prior=prior,
                      waterfall=waterfall_svg(steps, prior) if steps else "",
                      same_profile=a.profile_id == b.profile_id, masked=masked)


def next_pending(*, after: MatchReview | None = None) -> MatchReview | None:
    """The next pair to decide: the most probable pending one (another than `after`)."""
    pending = MatchReview.objects.filter(status=MatchReview.Status.PENDING)
    if after is not None:
        pending = pending.exclude(pk=after.pk)
    return pending.order_by("-probability", "pk").first()
