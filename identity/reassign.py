"""Moving records between profiles, with everything that belongs to them.

The one write path of identity decisions (batch resolution, incremental matching,
reviews, unmerges): records get their new profile; their events and consent entries
follow them (the ledger allows only this re-pointing, under cdp.identity); profiles left
without records are retired with a redirect to the profile that took most of their
records (their remaining events and entries go there too); every change is an
IdentityEvent and an audit row; after commit `identities_changed` lets segments and
connectors catch up.
"""

import datetime as dt
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.db import connection, models, transaction
from django.db.models import signals
from django.utils import timezone

from cdp.audit import audit_record
from cdp.db import staged_rows
from cdp.models import ConsentEntry, Event, Profile, SourceRecord
from cdp.signals import identities_changed
from identity.models import IdentityEvent, ProfileRedirect


@dataclass
class Reassignment:
    moved_records: int = 0
    created: list[uuid.UUID] = field(default_factory=list)
    retired: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)  # old -> new
    touched: set[uuid.UUID] = field(default_factory=set)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step


def _identity_path() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('cdp.identity', 'on', true)")


def _move_records(moves: Mapping[int, uuid.UUID]) -> None:
    """Records get their new profile; their events and consent entries follow them."""
    if connection.vendor != "postgresql":  # the SQLite demo: small, row by row is fine
        with connection.cursor() as cursor:
            cursor.executemany("UPDATE cdp_sourcerecord SET profile_id = %s WHERE id = %s",
                               [(uuid.UUID(str(pid)).hex, rid) for rid, pid in moves.items()])
        moved = list(moves)
        Event.objects.filter(record_id__in=moved).update(profile_id=_record_profile())
        ConsentEntry.objects.filter(record_id__in=moved).update(profile_id=_record_profile())
        return
    # A batch run moves up to every record: one staged table, three set-based UPDATEs.
    with connection.cursor() as cursor:
        staged = staged_rows(cursor, "_identity_moves", [("id", "bigint"), ("pid", "uuid")],
                              list(moves.items()))
        cursor.execute(f"UPDATE {SourceRecord._meta.db_table} r SET profile_id = m.pid "  # noqa: S608
                       f"FROM {staged} m WHERE r.id = m.id")
        for model in (Event, ConsentEntry):
            cursor.execute(f"UPDATE {model._meta.db_table} t SET profile_id = m.pid "  # noqa: S608
                           f"FROM {staged} m WHERE t.record_id = m.id "
                           "AND t.profile_id IS DISTINCT FROM m.pid")


def _retire(retired: Mapping[uuid.UUID, uuid.UUID]) -> None:
    """What still points at a retired profile (entries without a record, redirects to
    it) goes to the profile that took most of its records."""
    if connection.vendor != "postgresql":
        for old, new in retired.items():
            Event.objects.filter(profile_id=old).update(profile_id=new)
            ConsentEntry.objects.filter(profile_id=old).update(profile_id=new)
            ProfileRedirect.objects.filter(new_id=old).update(new_id=new)
        return
    with connection.cursor() as cursor:
        staged = staged_rows(cursor, "_identity_retired", [("old", "uuid"), ("new", "uuid")],
                              list(retired.items()))
        for table, column in ((Event._meta.db_table, "profile_id"),
                              (ConsentEntry._meta.db_table, "profile_id"),
                              (ProfileRedirect._meta.db_table, "new_id")):
            cursor.execute(f"UPDATE {table} t SET {column} = r.new "  # noqa: S608
                           f"FROM {staged} r WHERE t.{column} = r.old")


def _delete_profiles(ids: list[uuid.UUID]) -> None:
    """Retired profiles, with what still hangs on them (golden record, traits, segment
    memberships, scores): their records, events and consent entries have moved.

    Many at once on PostgreSQL: one DELETE per cascading table with the ids as one
    array. Django's collector loads every profile and sends IN lists of as many
    parameters per table (10 s for 44,000 profiles). It stays the path for a few, and
    whenever a relation is not a plain cascade or someone listens for deletes."""
    cascades = [rel for rel in Profile._meta.related_objects
                if rel.on_delete is not models.PROTECT]
    plain = all(rel.on_delete is models.CASCADE and not rel.related_model._meta.related_objects
                and not _listened(rel.related_model) for rel in cascades)
    if connection.vendor != "postgresql" or len(ids) < 1000 or not plain or _listened(Profile):
        Profile.objects.filter(pk__in=ids).delete()
        return
    array = [str(pid) for pid in ids]
    with connection.cursor() as cursor:
        for rel in cascades:
            cursor.execute(f"DELETE FROM {rel.related_model._meta.db_table} "  # noqa: S608
                           f"WHERE {rel.field.column} = ANY(%s::uuid[])", [array])
        # A record still on one (PROTECT) fails the foreign key check at commit.
        cursor.execute(f"DELETE FROM {Profile._meta.db_table} WHERE id = ANY(%s::uuid[])",  # noqa: S608
                       [array])


def _listened(model: type[models.Model]) -> bool:
    return signals.pre_delete.has_listeners(model) or signals.post_delete.has_listeners(model)


def records_reassign(
    *, moves: Mapping[int, uuid.UUID], rule: str, actor: str,
    scores: Mapping[int, float] | None = None, kind: str | None = None,
    audit_each: bool = True, now: dt.datetime | None = None,
) -> Reassignment:
    """Give each record (id) its new profile (existing, or a new id to create).

    audit_each: one audit row per change (a person's decision); a batch run writes one
    summary row instead, its IdentityEvents holding the detail.
    """
    now = now or timezone.now()
    result = Reassignment()
    with transaction.atomic():
        current = dict(SourceRecord.objects.filter(pk__in=list(moves))
                       .values_list("pk", "profile_id"))
        moves = {rid: pid for rid, pid in moves.items() if current.get(rid) not in (None, pid)}
        if not moves:
            return result
        _identity_path()
        targets = set(moves.values())
        existing = set(Profile.objects.filter(pk__in=targets).values_list("pk", flat=True))
        result.created = sorted(targets - existing, key=str)
        Profile.objects.bulk_create([Profile(id=pid) for pid in result.created])
        started = time.perf_counter()
        _move_records(moves)
        result.timings["move_s"] = time.perf_counter() - started
        sources = {current[rid] for rid in moves}
        left = set(SourceRecord.objects.filter(profile_id__in=sources)
                   .values_list("profile_id", flat=True).distinct())
        flows: dict[uuid.UUID, Counter] = defaultdict(Counter)
        for rid, pid in moves.items():
            flows[current[rid]][pid] += 1
        for old in sorted(sources - left, key=str):
            new = flows[old].most_common(1)[0][0]
            result.retired[old] = new
        started = time.perf_counter()
        _retire(result.retired)
        ProfileRedirect.objects.bulk_create(
            [ProfileRedirect(old_id=old, new_id=new, at=now)
             for old, new in result.retired.items()], ignore_conflicts=True)
        result.timings["retire_s"] = time.perf_counter() - started
        started = time.perf_counter()
        _delete_profiles(list(result.retired))
        result.timings["delete_s"] = time.perf_counter() - started
        result.moved_records = len(moves)
        result.touched = (targets | sources) - set(result.retired)
        started = time.perf_counter()
        events = _record_events(moves, current, result, rule=rule, actor=actor,
                                scores=scores or {}, kind=kind, now=now)
        _audit(events, rule=rule, actor=actor, each=audit_each)
        result.timings["events_s"] = time.perf_counter() - started
        started = time.perf_counter()
        retired, touched = dict(result.retired), set(result.touched)
        transaction.on_commit(lambda: identities_changed.send(
            sender=Profile, profile_ids=touched, retired=retired))
    # The commit and the receivers it runs (segments, connectors), when outermost.
    result.timings["commit_s"] = time.perf_counter() - started
    return result


def _record_profile():  # noqa: ANN202 - a subquery expression
    from django.db.models import OuterRef, Subquery

    return Subquery(SourceRecord.objects.filter(pk=OuterRef("record_id"))
                    .values("profile_id")[:1])


def _record_events(moves, current, result, *, rule, actor, scores, kind,
                   now) -> list[IdentityEvent]:
    by_pair: dict[tuple, list[int]] = defaultdict(list)
    for rid, pid in moves.items():
        by_pair[(current[rid], pid)].append(rid)
    events = []
    for (old, new), records in by_pair.items():
        if kind is not None:
            what = kind
        elif old in result.retired:
            what = IdentityEvent.Kind.MERGE
        elif new in result.created:
            what = IdentityEvent.Kind.SPLIT
        else:
            what = IdentityEvent.Kind.MOVE
        score = max((scores[r] for r in records if r in scores), default=None)
        events.append(IdentityEvent(kind=what, profile_id=new, other_profile_id=old,
                                    record_ids=sorted(records), rule=rule, score=score,
                                    actor=actor, at=now))
    IdentityEvent.objects.bulk_create(events)
    return events


def _audit(events: list[IdentityEvent], *, rule: str, actor: str, each: bool) -> None:
    action = {"merge": "identity.merge", "split": "identity.split",
              "unmerge": "identity.unmerge"}
    if not each:
        kinds = Counter(event.kind for event in events)
        audit_record(actor=actor, action="identity.resolve", object_type="identity",
                     details={"rule": rule, "changes": dict(sorted(kinds.items())),
                              "records": sum(len(e.record_ids) for e in events)})
        return
    for event in events:
        audit_record(
            actor=actor, action=action.get(event.kind, "identity.move"),
            object_type="profile", object_id=str(event.profile_id),
            profile_id=event.profile_id,
            details={"from": str(event.other_profile_id), "records": event.record_ids[:50],
                     "record_count": len(event.record_ids), "rule": rule,
                     "score": event.score},
        )
