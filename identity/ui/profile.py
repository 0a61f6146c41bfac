"""The identity side of a profile's page: its golden record (each value with the record
it comes from), its records, its identity events and the graph of match weights.

Reading the values decrypts them: one audit row per page view, in the same transaction,
masked for roles that may not read them in clear (cdp.roles).
"""

import uuid
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from cdp.audit import audit_record
from cdp.fields import STANDARD_FIELDS
from cdp.models import Profile, SourceRecord
from cdp.privacy.datakeys import data_keys_load
from cdp.privacy.masking import mask_personal
from cdp.services.profiles import record_plain
from identity.models import GoldenRecord, IdentityEvent, IdentityModel
from identity.ui.charts import graph_svg, weight_of
from identity.ui.labels import field_label
from identity.ui.pairs import MAX_RECORDS, pair_scores

EVENTS_SHOWN = 50
RECORDS_SHOWN = 100


@dataclass
class ProfileIdentity:
    golden: list[dict[str, Any]] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    events: list[IdentityEvent] = field(default_factory=list)
    pairs: list[dict[str, Any]] = field(default_factory=list)
    graph: str = ""
    model_version: int | None = None
    masked: bool = True


def _golden_rows(sources: dict[str, int], values: dict[int, dict[str, Any]],
                 records: dict[int, SourceRecord]) -> list[dict[str, Any]]:
    rows = []
    for name in STANDARD_FIELDS:
        record_id = sources.get(name)
        if record_id not in values:
            continue
        record = records[record_id]
        rows.append({"field": name, "label": field_label(name),
                     "value": values[record_id].get(name), "record_id": record_id,
                     "source": record.source.name, "external_id": record.external_id})
    return rows


def _graph(records: list[SourceRecord], result: ProfileIdentity) -> None:
    model = IdentityModel.objects.filter(active=True).only("version", "splink_model").first()
    shown = records[:MAX_RECORDS]
    scores = pair_scores(record_ids=[r.pk for r in shown], model=model) if model else []
    result.model_version = model.version if model else None
    result.pairs = [{"a": s.a, "b": s.b, "probability": s.probability,
                     "weight": weight_of(s.probability)}
                    for s in sorted(scores, key=lambda s: -s.probability)]
    if len(shown) > 1:
        result.graph = graph_svg(
            [(r.pk, f"{r.source.name}:{r.external_id}") for r in shown],
            [(s.a, s.b, s.probability) for s in scores],
            link=settings.CDP_IDENTITY_LINK_THRESHOLD,
            review=settings.CDP_IDENTITY_REVIEW_THRESHOLD)


def profile_identity(*, profile: Profile, actor: str, masked: bool) -> ProfileIdentity:
    """Everything the identity part of the page shows, the read audited once."""
    result = ProfileIdentity(masked=masked)
    golden = GoldenRecord.objects.filter(profile=profile).first()
    sources = golden.sources if golden else {}
    mine = SourceRecord.objects.filter(profile=profile).select_related("source")
    # A profile gathering thousands of records (a shared identifier) shows the first ones.
    records = list(mine.order_by("pk")[:RECORDS_SHOWN])
    shown = {r.pk for r in records}
    by_id = {r.pk: r for r in [*records, *mine.filter(pk__in=set(sources.values()) - shown)]}
    with transaction.atomic():
        keys = data_keys_load([r.data_key_id for r in by_id.values()])
        values = {pk: record_plain(r, keys.get(r.data_key_id)) for pk, r in by_id.items()}
        audit_record(actor=actor, action="profile.view", object_type="profile",
                     object_id=str(profile.pk), profile_id=profile.pk,
                     details={"via": "admin", "records": len(values), "masked": masked})
    if masked:
        values = {pk: mask_personal(v) for pk, v in values.items()}
    result.golden = _golden_rows(sources, values, by_id)
    result.records = [{"record": r, "values": values[r.pk]} for r in records]
    result.events = list(IdentityEvent.objects.filter(
        Q(profile_id=profile.pk) | Q(other_profile_id=profile.pk))[:EVENTS_SHOWN])
    _graph(records, result)
    return result


def profile_id_of(record_id: int) -> uuid.UUID | None:
    return SourceRecord.objects.filter(pk=record_id).values_list("profile_id", flat=True).first()
