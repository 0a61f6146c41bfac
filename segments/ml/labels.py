"""Who a model learns about and what it learns: the population and the labels.

- Eligible: not restricted (GDPR Art. 18), allowed for the profiling purpose when the model
  requires it (Art. 21/22), and in the model's population rule (clustering).
- Labels are read from events at or after the cutoff, and only there: propensity = an
  event of the model's type (purchase) in [cutoff, cutoff + horizon); churn = no event of
  any type in that window. Features come from events before the cutoff
  (segments.ml.features), so the two never overlap.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from django.conf import settings
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

from cdp.models import Event, Profile
from cdp.privacy.consent import allowed_for_q
from segments.ml.features import Scope, scope_sql
from segments.models import SegmentModel


def eligible_profiles(model: SegmentModel, *, now: dt.datetime) -> QuerySet:
    """values("pk") of the profiles the model may learn from and score, now."""
    profiles = Profile.objects.filter(restricted_at__isnull=True)
    if model.requires_consent:
        profiles = profiles.filter(allowed_for_q(settings.CDP_MODEL_CONSENT_PURPOSE, now=now))
    if model.population:
        from segments.rules import compile_definition

        profiles = profiles.filter(compile_definition(model.population, now=now))
    return profiles.order_by().values("pk")


def label_window(*, cutoff: dt.datetime, horizon_days: int) -> tuple[dt.datetime, dt.datetime]:
    return cutoff, cutoff + dt.timedelta(days=horizon_days)


def labels(*, kind: str, ids: np.ndarray, scope: Scope, cutoff: dt.datetime,
           horizon_days: int, event: str) -> np.ndarray:
    """1/0 per profile of `ids` (16-byte UUIDs): bought (propensity) or left (churn)."""
    start, end = label_window(cutoff=cutoff, horizon_days=horizon_days)
    # The scope's own SQL (ours, values as parameters).
    in_scope = RawSQL(*scope_sql(scope))  # noqa: S611
    window = Event.objects.filter(occurred_at__gte=start, occurred_at__lt=end,
                                  profile_id__in=in_scope)
    if kind == SegmentModel.Kind.PROPENSITY:
        window = window.filter(type=event)
    seen = {pid.bytes for pid in window.values_list("profile_id", flat=True).distinct()}
    active = np.fromiter((bytes(v) in seen for v in ids), dtype=bool, count=len(ids))
    outcome = active if kind == SegmentModel.Kind.PROPENSITY else ~active
    return outcome.astype(np.int8)
