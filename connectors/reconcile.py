"""The nightly fallback batch: read each container back and repair every difference.

The vendor is the truth about what it holds. For each sync the container's audience is
read page by page; opt-outs seen there (unsubscribed, cleaned) come back as consent
withdrawals in the ledger with the destination as source; SyncMember is corrected to
what the vendor really has (someone removed a tag by hand, a confirmed write that did
not stick, fields edited in the vendor's UI); then an ordinary run sends what differs
from the desired audience, pending members included. In mirror mode members found in
the container that the CDP never sent are taken out too; otherwise they are left alone.
"""

import datetime as dt
import uuid
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from cdp.models import Source
from cdp.services.consents import consents_withdraw
from connectors.base import RemoteMember, SentMember
from connectors.engine import sync_run
from connectors.models import AudienceSync, SyncMember, SyncRun
from connectors.payload import fields_hash
from connectors.registry import connector_for

OPTED_OUT = ("unsubscribed", "cleaned")
_STRANGER = uuid.UUID("6c0a3f4e-9c7d-4e1b-8a55-000000000000")


@dataclass
class ReadBack:
    repaired: int = 0
    opt_outs: int = 0
    strangers: int = 0


def destination_source(destination_name: str) -> Source:
    """The source consent withdrawals reported by a destination are recorded under."""
    source, _ = Source.objects.get_or_create(
        name=f"dest-{destination_name}"[:64],
        defaults={"kind": Source.Kind.OTHER,
                  "description": "Opt-outs reported by a destination"},
    )
    return source


def opt_outs_record(sync: AudienceSync, remote_ids: set[str], channel: str,
                    captured_at: dt.datetime | None = None) -> int:
    """Withdraw the destination's purpose for the profiles behind these vendor ids, as of
    when the vendor saw the opt-out (captured_at) if it says."""
    profile_ids = set(SyncMember.objects.filter(
        sync__destination=sync.destination, remote_id__in=list(remote_ids)
    ).values_list("profile_id", flat=True))
    if not profile_ids:
        return 0
    return consents_withdraw(
        profile_ids=profile_ids, purpose=sync.destination.purpose_id,
        source=destination_source(sync.destination.name), channel=channel,
        evidence={"destination": sync.destination.name, "reported_by": "vendor"},
        recorded_by=f"sync:{sync.pk}", captured_at=captured_at,
    )


def _correct_state(sync: AudienceSync, remote: dict[str, RemoteMember], keys_email) -> int:
    repaired = 0
    now = timezone.now()
    with transaction.atomic():
        for row in SyncMember.objects.filter(sync=sync).select_for_update():
            found = remote.get(row.remote_id)
            present = bool(found and found.in_container and found.status != "archived")
            changes = {}
            if present != row.in_container:
                changes["in_container"] = present
            if present and found is not None and row.status == SyncMember.Status.SYNCED:
                email = keys_email(row)
                drift = fields_hash(email, {k: v for k, v in found.fields.items()
                                            if k in sync.destination.field_mapping
                                            and v not in (None, "")})
                if email is not None and drift != row.field_hash:
                    changes["field_hash"] = ""  # differs from what was sent: send again
            if changes:
                repaired += 1
                SyncMember.objects.filter(pk=row.pk).update(updated_at=now, **changes)
    return repaired


def sync_reconcile(*, sync_id: int) -> SyncRun | None:
    """Read back, record opt-outs, repair state, then run; None if disabled or busy."""
    from connectors.engine import EMAIL_FIELD, data_keys_load, decrypt

    sync = (AudienceSync.objects.select_related("destination", "segment")
            .filter(pk=sync_id, enabled=True, destination__enabled=True).first())
    if sync is None:
        return None
    connector = connector_for(sync)
    found = ReadBack()
    strangers: list[SentMember] = []
    try:
        if connector.readable:
            connector.prepare()
            remote = {m.remote_id: m for m in connector.read_back()}
            opted = {rid for rid, m in remote.items() if m.status in OPTED_OUT}
            found.opt_outs = opt_outs_record(sync, opted, channel="destination-read-back")
            rows = SyncMember.objects.filter(sync=sync)
            keys = data_keys_load(rows.values_list("data_key_id", flat=True))

            def email_of(row: SyncMember) -> str | None:
                key = keys.get(row.data_key_id)
                return decrypt(row.email_enc, field=EMAIL_FIELD, key=key) if key else None

            found.repaired = _correct_state(sync, remote, email_of)
            if sync.mode == AudienceSync.Mode.MIRROR:
                known = set(rows.values_list("remote_id", flat=True))
                strangers = [
                    SentMember(uuid.uuid5(_STRANGER, m.remote_id), m.remote_id, m.email)
                    for m in remote.values() if m.in_container and m.remote_id not in known
                ]
    finally:
        connector.client.close()
    if strangers:
        connector = connector_for(sync)
        try:
            connector.prepare()
            for start in range(0, len(strangers), 500):
                connector.remove(strangers[start : start + 500])
        finally:
            connector.client.close()
        found.strangers = len(strangers)
    run = sync_run(sync_id=sync.pk, trigger=SyncRun.Trigger.NIGHTLY)
    if run is not None:
        SyncRun.objects.filter(pk=run.pk).update(
            repaired=found.repaired + found.strangers, opt_outs=found.opt_outs)
        run.repaired, run.opt_outs = found.repaired + found.strangers, found.opt_outs
    return run
