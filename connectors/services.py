"""Creating and changing destinations and audience syncs: validated, audited, scheduled.

The admin, the API and the commands all call these, so the rules live in one place:
credentials are sealed at once and never returned; a field mapping names real profile
fields or traits; a sync's container has what its vendor needs; a schedule is valid cron.
Also here: asking for a run, opt-outs pushed by a vendor's webhook, and the DPO's export
of erasure deliveries (connectors.erasure_export).
"""

import datetime as dt
import re
import secrets
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from cdp.audit import audit_record
from cdp.models import Purpose
from cdp.schedules import cron_error, periodic_task_delete, periodic_task_set
from connectors.models import AudienceSync, Destination, SyncMember, SyncRun
from connectors.payload import MappingError, mapping_validate
from connectors.registry import (
    CONNECTORS,
    CONTAINER,
    CREDENTIALS,
    credentials_open,
    credentials_seal,
)
from segments.models import Segment

RUN_TASK = "connectors.tasks.sync_run_task"
# Settings a destination may override; None means the default (the vendor's limit for
# the first three, the field's default for the others).
LIMITS = ("rate_per_s", "max_concurrency", "batch_size", "timeout_s", "max_retries",
          "failure_threshold")
_VENDOR_DEFAULT = ("rate_per_s", "max_concurrency", "batch_size")
_WHOLE = ("max_concurrency", "batch_size", "max_retries")
_SLUG = re.compile(r"^[-a-zA-Z0-9_]{1,64}$")
# Mailchimp list webhook events that mean "do not email this person any more".
OPT_OUT_EVENTS = ("unsubscribe", "cleaned")


@dataclass
class Invalid(ValueError):
    """A refused change: the field at fault and why (never a secret's value)."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def _limit(name: str, value: Any) -> Any:
    if value is None:
        return None if name in _VENDOR_DEFAULT else Destination._meta.get_field(name).default
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise Invalid(name, "must be a number")
    if name in _WHOLE and value != int(value):
        raise Invalid(name, "must be a whole number")
    if name == "failure_threshold" and not 0 <= value <= 1:
        raise Invalid(name, "must be between 0 and 1 (a share of the members sent)")
    if name == "max_retries" and not 0 <= value <= 20:
        raise Invalid(name, "must be between 0 and 20")
    if name not in ("failure_threshold", "max_retries") and value <= 0:
        raise Invalid(name, "must be a positive number")
    return int(value) if name in _WHOLE else float(value)


def _limits(values: dict[str, Any], kind: str) -> dict[str, Any]:
    """The limits given (absent: unchanged), checked against the vendor's maximum."""
    unknown = set(values) - set(LIMITS)
    if unknown:
        raise TypeError(f"unknown destination settings: {', '.join(sorted(unknown))}")
    out = {name: _limit(name, value) for name, value in values.items()}
    vendor = CONNECTORS[kind].limits
    if out.get("batch_size") and out["batch_size"] > vendor.batch_size:
        raise Invalid("batch_size", f"at most {vendor.batch_size} for {kind} (the API's limit)")
    return out


def _credential_set(kind: str, names_given: set[str]) -> tuple[str, ...]:
    """The accepted set of credential names that covers what was given (a vendor may take
    several forms, e.g. HubSpot: a private-app token or an OAuth client + refresh token)."""
    sets = CONNECTORS[kind].credential_sets or (CREDENTIALS[kind],)
    return next((names for names in sets if names_given <= set(names)), sets[0])


def _credentials(kind: str, given: dict[str, str] | None,
                 destination: Destination | None, kind_before: str | None) -> dict | None:
    """The credentials to seal (None: keep the current ones). Names given replace the
    current values; names not given keep theirs, as long as the kind stays the same."""
    if given is None and (destination is None or kind != kind_before):
        raise Invalid("credentials", f"required: {', '.join(CREDENTIALS[kind])}")
    if given is None:
        return None
    if not isinstance(given, dict):
        raise Invalid("credentials", "must be an object of name -> secret")
    kept = {}
    if destination is not None and kind == kind_before and destination.credentials_enc:
        kept = credentials_open(destination)
    names = _credential_set(kind, set(given))
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise Invalid("credentials", f"{kind} takes only {', '.join(names)}, not "
                                     f"{', '.join(unknown)}")
    kept = {k: v for k, v in kept.items() if k in names}
    merged = {**kept, **{k: str(v).strip() for k, v in given.items() if str(v).strip()}}
    missing = [k for k in names if not merged.get(k)]
    if missing:
        raise Invalid("credentials", f"missing {', '.join(missing)}")
    return merged


def destination_check(
    *, name: str, kind: str, purpose: str, credentials: dict[str, str] | None = None,
    base_url: str = "", field_mapping: dict[str, str] | None = None,
    destination: Destination | None = None, **limits: Any,
) -> tuple[dict[str, str], dict[str, str] | None, dict[str, Any]]:
    """Validate a destination's values; returns (mapping, credentials to seal, limits).
    Raises Invalid naming the first field at fault."""
    if not isinstance(name, str) or not _SLUG.match(name):
        raise Invalid("name", "letters, digits, - and _ only (at most 64)")
    others = Destination.objects.filter(name=name)
    if destination is not None and destination.pk:
        others = others.exclude(pk=destination.pk)
    if others.exists():
        raise Invalid("name", "a destination with this name already exists")
    if kind not in CONNECTORS:
        raise Invalid("kind", f"one of {', '.join(sorted(CONNECTORS))}")
    kind_before = None
    if destination is not None and destination.pk:
        # The stored kind: an admin form has already put the new one on the instance.
        kind_before = Destination.objects.filter(pk=destination.pk).values_list(
            "kind", flat=True).first()
        if kind != kind_before and destination.syncs.exists():
            raise Invalid("kind", "cannot change while syncs use this destination")
    if not Purpose.objects.filter(slug=purpose).exists():
        raise Invalid("purpose", "unknown purpose")
    try:
        mapping = mapping_validate(field_mapping or {})
    except MappingError as exc:
        raise Invalid("field_mapping", str(exc)) from exc
    if base_url and not base_url.startswith(("http://", "https://")):
        raise Invalid("base_url", "must start with http:// or https://")
    sealed = _credentials(kind, credentials, destination, kind_before)
    if sealed is not None:
        try:
            CONNECTORS[kind].base_url(base_url, sealed)
        except ValueError as exc:
            raise Invalid("credentials", str(exc)) from exc
    return mapping, sealed, _limits(limits, kind)


def destination_save(
    *, actor: str, name: str, kind: str, purpose: str, credentials: dict[str, str] | None = None,
    base_url: str = "", field_mapping: dict[str, str] | None = None,
    destination: Destination | None = None, enabled: bool | None = None, **limits: Any,
) -> Destination:
    """Create (destination=None) or change a destination. Credentials None keeps them;
    a limit left out is unchanged, a limit given as None goes back to its default."""
    mapping, sealed, checked = destination_check(
        name=name, kind=kind, purpose=purpose, credentials=credentials, base_url=base_url,
        field_mapping=field_mapping, destination=destination, **limits)
    creating = destination is None or not destination.pk
    destination = destination or Destination()
    if not destination.inbound_token:
        destination.inbound_token = secrets.token_urlsafe(32)
    destination.name, destination.kind, destination.purpose_id = name, kind, purpose
    destination.base_url, destination.field_mapping = base_url, mapping
    if enabled is not None:
        destination.enabled = bool(enabled)
    for field, value in checked.items():
        setattr(destination, field, value)
    if sealed is not None:
        destination.credentials_enc = credentials_seal(sealed)
    with transaction.atomic():
        destination.save()
        audit_record(
            actor=actor, action="destination.create" if creating else "destination.change",
            object_type="destination", object_id=str(destination.pk),
            details={"name": name, "kind": kind, "purpose": purpose,
                     "enabled": destination.enabled, "limits": sorted(checked),
                     "credentials_changed": sealed is not None},
        )
    return destination


def destination_change(*, actor: str, destination: Destination, **changes: Any) -> Destination:
    """Change some of a destination's values (the others are kept)."""
    values = {"name": destination.name, "kind": destination.kind,
              "purpose": destination.purpose_id, "base_url": destination.base_url,
              "field_mapping": destination.field_mapping}
    return destination_save(actor=actor, destination=destination, **{**values, **changes})


def destination_credentials_set(destination: Destination) -> list[str]:
    """The names of the credentials a destination holds (never their values)."""
    return list(CREDENTIALS[destination.kind]) if destination.credentials_enc else []


def _task_name(sync_id: int) -> str:
    return f"sync-run:{sync_id}"


def sync_check(
    *, segment: Segment | None, destination: Destination | None, container: Any,
    mode: str = AudienceSync.Mode.UPSERT_AND_REMOVE, schedule: str = "",
    sync: AudienceSync | None = None,
) -> None:
    """Validate a sync's values; raises Invalid naming the first field at fault."""
    if segment is None:
        raise Invalid("segment", "required")
    if destination is None:
        raise Invalid("destination", "required")
    if mode not in AudienceSync.Mode.values:
        raise Invalid("mode", f"one of {', '.join(AudienceSync.Mode.values)}")
    if not isinstance(container, dict):
        raise Invalid("container", "must be an object")
    missing = [k for k in CONTAINER[destination.kind] if not str(container.get(k, "")).strip()]
    if missing:
        raise Invalid("container", f"{destination.kind} needs {', '.join(missing)}")
    if problem := CONNECTORS[destination.kind].container_error(container):
        raise Invalid("container", problem)
    url = str(container.get("url", ""))
    if url and not url.startswith(("http://", "https://")):
        raise Invalid("container", "url must start with http:// or https://")
    if error := cron_error(schedule):
        raise Invalid("schedule", error)
    if sync is not None and sync.pk:
        stored = AudienceSync.objects.filter(pk=sync.pk).values(
            "destination_id", "container").first()
        moved = stored and (stored["destination_id"] != destination.pk
                            or stored["container"] != container)
        if moved and SyncMember.objects.filter(sync_id=sync.pk, in_container=True).exists():
            raise Invalid("container", "members were sent to the current container: "
                                       "create a new sync instead (and disable this one)")


def sync_save(
    *, actor: str, segment: Segment, destination: Destination, container: dict[str, Any],
    mode: str = AudienceSync.Mode.UPSERT_AND_REMOVE, schedule: str = "",
    enabled: bool = True, sync: AudienceSync | None = None,
) -> AudienceSync:
    """Create or change an audience sync and its beat schedule."""
    sync_check(segment=segment, destination=destination, container=container, mode=mode,
               schedule=schedule, sync=sync)
    creating = sync is None or not sync.pk
    sync = sync or AudienceSync()
    sync.segment, sync.destination, sync.container = segment, destination, container
    sync.mode, sync.schedule, sync.enabled = mode, schedule, enabled
    with transaction.atomic():
        sync.save()
        periodic_task_set(name=_task_name(sync.pk), schedule=schedule, task=RUN_TASK,
                          args=[sync.pk, "schedule"], enabled=enabled)
        audit_record(
            actor=actor, action="sync.create" if creating else "sync.change",
            object_type="audience_sync", object_id=str(sync.pk),
            details={"segment": segment.slug, "destination": destination.name, "mode": mode,
                     "schedule": schedule, "enabled": enabled},
        )
    return sync


def sync_change(*, actor: str, sync: AudienceSync, **changes: Any) -> AudienceSync:
    """Change some of a sync's values (the others are kept)."""
    values = {"segment": sync.segment, "destination": sync.destination,
              "container": sync.container, "mode": sync.mode, "schedule": sync.schedule,
              "enabled": sync.enabled}
    return sync_save(actor=actor, sync=sync, **{**values, **changes})


def sync_delete(*, actor: str, sync: AudienceSync) -> None:
    """Stop syncing. The sync is disabled, not deleted: its members stay at the vendor,
    and an erasure must still find where each person was sent."""
    with transaction.atomic():
        periodic_task_delete(_task_name(sync.pk))
        AudienceSync.objects.filter(pk=sync.pk).update(enabled=False)
        sync.enabled = False
        audit_record(actor=actor, action="sync.delete", object_type="audience_sync",
                     object_id=str(sync.pk))


def _runnable(sync: AudienceSync) -> None:
    if not sync.enabled:
        raise Invalid("enabled", "the sync is disabled")
    if not sync.destination.enabled:
        raise Invalid("destination", "the destination is disabled")


def sync_run_request(*, actor: str, sync: AudienceSync, reconcile: bool = False) -> str:
    """Queue a run now (Celery), after reading the container back with reconcile;
    returns the task id. Who asked is audited."""
    from connectors.tasks import sync_reconcile_task, sync_run_task

    _runnable(sync)
    audit_record(actor=actor, action="sync.run_requested", object_type="audience_sync",
                 object_id=str(sync.pk), details={"via": "queue", "reconcile": reconcile})
    if reconcile:
        return sync_reconcile_task.delay(sync.pk).id
    return sync_run_task.delay(sync.pk, SyncRun.Trigger.MANUAL).id


def sync_run_now(*, actor: str, sync: AudienceSync, reconcile: bool = False) -> SyncRun | None:
    """Run in this process (read the container back first with reconcile); None when
    another run holds the lease."""
    from connectors.engine import sync_run
    from connectors.reconcile import sync_reconcile

    _runnable(sync)
    audit_record(actor=actor, action="sync.run_requested", object_type="audience_sync",
                 object_id=str(sync.pk),
                 details={"via": "process", "reconcile": reconcile})
    if reconcile:
        return sync_reconcile(sync_id=sync.pk)
    return sync_run(sync_id=sync.pk, trigger=SyncRun.Trigger.MANUAL)


def _fired_at(text: str) -> dt.datetime | None:
    """Mailchimp's `fired_at` ("2009-03-26 21:35:57", UTC); None if absent, malformed
    or in the future (then the withdrawal is dated when it arrives)."""
    try:
        moment = dt.datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC)
    except ValueError:
        return None
    return moment if moment <= timezone.now() else None


def destination_opt_out(*, destination: Destination, event: str, email: str,
                        list_id: str = "", fired_at: str = "") -> int:
    """An opt-out a vendor pushed (Mailchimp list webhook): the people the CDP sent under
    that address to that list lose the destination's purpose, as of when it fired.
    Returns entries written."""
    from connectors.mailchimp import subscriber_hash
    from connectors.reconcile import opt_outs_record

    if event not in OPT_OUT_EVENTS or not email or destination.kind != "mailchimp":
        return 0
    remote_id = subscriber_hash(email)
    members = SyncMember.objects.filter(sync__destination=destination, remote_id=remote_id)
    if list_id:
        members = members.filter(sync__container__list_id=list_id)
    member = members.select_related("sync__destination").first()
    if member is None:
        return 0
    return opt_outs_record(member.sync, {remote_id}, channel="destination-webhook",
                           captured_at=_fired_at(fired_at))
