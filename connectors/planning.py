"""The sync diff: who to add, update and take out, decided chunk by chunk.

Desired audience = the segment's current members that may be used for the destination's
purpose (cdp.privacy.consent: granted, not expired, not restricted; erased people no
longer exist). It is compared with SyncMember, what was last confirmed per member (vendor
id, hash of the mapped fields, in the container or not).

Members already in the container are decided first (`held()`): that is where removals
come from (they left the audience, lost their email, or changed it), and every removal
must reach the vendor before any upsert that could touch the same vendor member. The
others (`fresh()`, every member of an initial sync) can only be upserts, so they are
decided a small chunk at a time while earlier chunks are already being sent: the vendor's
allowance is not left idle while the whole plan is built.
"""

import datetime as dt
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from cdp.privacy.consent import profiles_allowed_for
from cdp.privacy.crypto import DecryptionError, decrypt, seal_many
from cdp.privacy.datakeys import data_keys_load
from connectors.base import Connector, OutMember, SentMember
from connectors.models import AudienceSync, SyncMember
from connectors.payload import (
    TRAIT_PREFIX,
    fields_hash,
    golden_values,
    mapped_fields,
    traits_values,
)
from segments.models import SegmentMembership

HELD_CHUNK = 20_000
FRESH_CHUNK = 2_000  # small: the first batches go out after a few ms of planning
EMAIL_FIELD = "sync_email"  # associated data of the sealed email a member was sent under
Status = SyncMember.Status


@dataclass
class Push:
    member: OutMember
    remote_id: str
    email_enc: bytes | None
    data_key_id: uuid.UUID | None


@dataclass
class Plan:
    """Counts of what was decided (the pushes and removes themselves are streamed)."""

    pushes: int = 0
    removes: int = 0
    unchanged: int = 0
    rejected: int = 0
    skipped_consent: int = 0
    skipped_unreachable: int = 0


def desired_profiles(sync: AudienceSync, now: dt.datetime) -> tuple[list[uuid.UUID], int]:
    """(current members allowed for the destination's purpose, members skipped)."""
    total = SegmentMembership.objects.filter(segment_id=sync.segment_id,
                                             exited_at__isnull=True).count()
    allowed = list(
        profiles_allowed_for(sync.destination.purpose_id, now=now)
        .filter(memberships__segment_id=sync.segment_id, memberships__exited_at__isnull=True)
        .values_list("pk", flat=True)
    )
    return allowed, total - len(allowed)


class LazyKeys:
    """Data keys loaded on first use, in one query per batch of misses."""

    def __init__(self) -> None:
        self.keys: dict = {}

    def preload(self, ids: Iterable[uuid.UUID | None]) -> None:
        missing = {i for i in ids if i is not None and i not in self.keys}
        if missing:
            found = data_keys_load(missing)
            self.keys.update({i: found.get(i) for i in missing})

    def get(self, key_id: uuid.UUID | None):  # noqa: ANN201 - an AESGCM or None
        if key_id is None:
            return None
        if key_id not in self.keys:
            self.preload([key_id])
        return self.keys[key_id]


@dataclass
class SentState:
    """What was last sent for one member (read as tuples: 100k model instances cost
    seconds), with its sent email decrypted only when a decision needs it."""

    remote_id: str
    field_hash: str
    in_container: bool
    status: str
    data_key_id: uuid.UUID | None
    email_enc: bytes | None

    def email(self, keys: LazyKeys) -> str | None:
        key = keys.get(self.data_key_id)
        if self.email_enc is None or key is None:
            return None
        try:
            return decrypt(self.email_enc, field=EMAIL_FIELD, key=key)
        except DecryptionError:
            return None


def _state(sync: AudienceSync) -> dict[uuid.UUID, SentState]:
    rows = SyncMember.objects.filter(sync=sync).values_list(
        "profile_id", "remote_id", "field_hash", "in_container", "status", "data_key_id",
        "email_enc")
    return {row[0]: SentState(*row[1:6], bytes(row[6]) if row[6] is not None else None)
            for row in rows.iterator(chunk_size=20_000)}


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass
class Planner:
    """One run's diff. Build it with `Planner.start()`, then take `held()` (pushes of
    members in the container, with `removes` filled) before `fresh()`."""

    sync: AudienceSync
    connector: Connector
    desired: list[uuid.UUID]
    state: dict[uuid.UUID, SentState]
    plan: Plan = field(default_factory=Plan)
    removes: list[SentMember] = field(default_factory=list)
    keys: LazyKeys = field(default_factory=LazyKeys)

    @classmethod
    def start(cls, sync: AudienceSync, connector: Connector, now: dt.datetime) -> "Planner":
        desired, skipped = desired_profiles(sync, now)
        planner = cls(sync, connector, desired, _state(sync))
        planner.plan.skipped_consent = skipped
        return planner

    def _in_container(self, profile_id: uuid.UUID) -> bool:
        row = self.state.get(profile_id)
        return row is not None and row.in_container

    @property
    def fresh_count(self) -> int:
        """How many desired members are not in the container (an upper bound of what
        fresh() yields)."""
        return sum(not self._in_container(p) for p in self.desired)

    def held(self) -> list[Push]:
        """Decide the members in the container; fills `removes` (those who left the
        audience or changed email) and returns their pushes."""
        held = [p for p in self.desired if self._in_container(p)]
        wanted = set(held)
        pushes: list[Push] = []
        for chunk in _chunks(held, HELD_CHUNK):
            pushes += _plan_chunk(self, chunk, wanted)
        leaving = [(pid, row) for pid, row in self.state.items()
                   if row.in_container and pid not in wanted]
        self.keys.preload(row.data_key_id for _, row in leaving)
        self.removes += [SentMember(pid, row.remote_id, row.email(self.keys))
                         for pid, row in leaving]
        self.plan.removes = len(self.removes)
        return pushes

    def fresh(self) -> Iterator[Push]:
        """The pushes of desired members not in the container, a chunk at a time."""
        fresh = [p for p in self.desired if not self._in_container(p)]
        for chunk in _chunks(fresh, FRESH_CHUNK):
            yield from _plan_chunk(self, chunk, set())


def _plan_chunk(planner: Planner, chunk: list[uuid.UUID],
                wanted: set[uuid.UUID]) -> list[Push]:
    """The pushes of one chunk of desired members; members in the container who lose
    their email are dropped from `wanted` (so they are taken out), those whose email
    changed are added to the planner's removes."""
    plan, connector, keys = planner.plan, planner.connector, planner.keys
    mapping = planner.sync.destination.field_mapping
    fields_wanted = {s for s in mapping.values() if not s.startswith(TRAIT_PREFIX)}
    traits_wanted = {s[len(TRAIT_PREFIX):] for s in mapping.values()
                     if s.startswith(TRAIT_PREFIX)}
    goldens = golden_values(chunk, fields_wanted)
    traits = traits_values(chunk, traits_wanted)
    pushes = []
    for profile_id in chunk:
        golden = goldens.get(profile_id)
        row = planner.state.get(profile_id)
        email = golden.values.get("email") if golden else None
        if connector.needs_email and not email:
            plan.skipped_unreachable += 1
            wanted.discard(profile_id)  # in the container with no email: taken out
            continue
        fields = mapped_fields(mapping, golden, traits.get(profile_id, {})) if golden else {}
        member = OutMember(profile_id, email, fields, fields_hash(email, fields))
        remote_id = connector.remote_id(member)
        if row is not None and row.in_container:
            if row.field_hash == member.field_hash and row.status == Status.SYNCED:
                plan.unchanged += 1  # same email and fields: same vendor member
                continue
            same_member = (row.remote_id == remote_id if remote_id else
                           # Vendor-assigned ids: the same address is the same member.
                           (row.email(keys) or "").lower() == (email or "").lower())
            if same_member:
                member.join = False
                remote_id = remote_id or row.remote_id
            else:
                # New email, so a new vendor member: the old one leaves the container.
                planner.removes.append(SentMember(profile_id, row.remote_id, row.email(keys)))
        if (row is not None and row.status == Status.REJECTED
                and row.field_hash == member.field_hash):
            plan.rejected += 1  # refused as it is; resent once the data changes
            continue
        sealed = None
        if email and golden and golden.email_key is not None:
            sealed = seal_many(golden.email_key, {EMAIL_FIELD: email})[EMAIL_FIELD]
        pushes.append(Push(member, remote_id, sealed, golden.email_key_id if golden else None))
    plan.pushes += len(pushes)
    return pushes
