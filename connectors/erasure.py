"""Erasure at destinations (GDPR Art. 17) and its proof: one delivery per place held.

Inside the erasure transaction (a registered eraser) every SyncMember of the erased
profiles becomes an ErasureDelivery (destination, container, vendor id) and is deleted,
so nothing personal about them stays here. After commit the deliveries are sent; each
keeps its status (pending, done, failed, manual) and the vendor's answer, and is retried
(with growing waits) until the vendor confirms. The DPO exports them per request.
"""

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cdp.audit import audit_record
from cdp.models import SubjectRequest
from connectors.models import Destination, ErasureDelivery, SyncMember
from connectors.registry import credentials_keep, destination_connector

Status = ErasureDelivery.Status
MAX_WAIT = dt.timedelta(hours=24)


def _where(destination: Destination, container: dict[str, Any]) -> dict[str, Any]:
    """What locates a person at the vendor: the container without its membership part
    (the tag) and the engine's own context."""
    return {k: v for k, v in container.items() if k not in ("tag", "sync_id", "segment")}


def connectors_subject_erase(
    profile_ids: Sequence[uuid.UUID], request: SubjectRequest | None
) -> dict[str, int]:
    """Eraser: queue a delete wherever the profiles were sent; forget what was sent."""
    rows = SyncMember.objects.filter(profile_id__in=list(profile_ids)).select_related(
        "sync__destination")
    now = timezone.now()
    deliveries: dict[tuple, ErasureDelivery] = {}
    for row in rows:
        destination = row.sync.destination
        where = _where(destination, row.sync.container)
        key = (destination.pk, row.remote_id, row.profile_id, tuple(sorted(where.items())))
        deliveries.setdefault(key, ErasureDelivery(
            request=request, destination=destination, profile_id=row.profile_id,
            container=where, remote_id=row.remote_id, created_at=now, updated_at=now,
        ))
    ErasureDelivery.objects.bulk_create(deliveries.values(), ignore_conflicts=True)
    forgotten = rows.delete()[0]
    return {"destination_deletes_queued": len(deliveries), "sync_members_forgotten": forgotten}


def _due(now: dt.datetime) -> Q:
    """Pending now; failed ones after a wait doubling with each attempt (max a day)."""
    due = Q(status=Status.PENDING)
    for attempts in range(1, 12):
        wait = min(dt.timedelta(minutes=2**attempts), MAX_WAIT)
        due |= Q(status=Status.FAILED, attempts=attempts, updated_at__lte=now - wait)
    return due | Q(status=Status.FAILED, attempts__gte=12, updated_at__lte=now - MAX_WAIT)


def deliveries_send(*, delivery_ids: Sequence[int] | None = None,
                    now: dt.datetime | None = None) -> dict[str, int]:
    """Send due deliveries (or these ones); returns counts by resulting status."""
    now = now or timezone.now()
    due = ErasureDelivery.objects.filter(_due(now)).select_related("destination")
    if delivery_ids is not None:
        due = due.filter(pk__in=list(delivery_ids))
    counts: dict[str, int] = {}
    by_destination: dict[int, list[ErasureDelivery]] = {}
    for delivery in due.order_by("pk"):
        by_destination.setdefault(delivery.destination_id, []).append(delivery)
    for deliveries in by_destination.values():
        destination = deliveries[0].destination
        connector = destination_connector(destination, deliveries[0].container)
        try:
            for delivery in deliveries:
                outcome = connector.erase(delivery.remote_id, delivery.container)
                _record(delivery, outcome.status, outcome.response)
                counts[outcome.status] = counts.get(outcome.status, 0) + 1
        finally:
            connector.client.close()
            credentials_keep(destination, connector)
    return counts


def _record(delivery: ErasureDelivery, status: str, response: str) -> None:
    now = timezone.now()
    with transaction.atomic():
        ErasureDelivery.objects.filter(pk=delivery.pk).update(
            status=status, attempts=delivery.attempts + 1, vendor_response=response[:300],
            updated_at=now, done_at=now if status == Status.DONE else None,
        )
        if status != Status.FAILED:
            audit_record(
                actor="celery:erasure_delivery", action=f"erasure.destination_{status}",
                object_type="erasure_delivery", object_id=str(delivery.pk),
                profile_id=delivery.profile_id,
                details={"destination": delivery.destination.name,
                         "request": delivery.request_id, "response": response[:120]},
            )
