"""Full resolution: every record, deterministic then probabilistic, into stable profiles.

Read and decrypt into DuckDB (identity.loading), link on strong keys with the guards
(identity.deterministic), score pairs with the active Splink model (identity.matching),
cluster under the constraints people set (identity.clustering), keep profile ids stable
(each cluster keeps the id of the profile it shares most records with; a profile id is
never given to another person), queue the uncertain pairs for review, and write the
moves through identity.reassign. Training is separate (train_identity_model): resolution
never trains, so it never blocks on it.
"""

import datetime as dt
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from cdp.audit import audit_record
from cdp.db import Background
from cdp.models import Event, Profile, SourceRecord
from identity.clustering import components, constrained_clusters
from identity.deterministic import deterministic_edges
from identity.golden import golden_refresh
from identity.incremental import incremental_index
from identity.loading import records_table
from identity.matching import predict
from identity.models import IdentifierFlag, IdentityModel, MatchReview, RecordSplit
from identity.reassign import records_reassign


@dataclass
class ResolveResult:
    records: int = 0
    clusters: int = 0
    moved: int = 0
    merged: int = 0
    created: int = 0
    reviews: int = 0
    flagged: int = 0
    model_version: int | None = None
    timings: dict[str, float] = field(default_factory=dict)


def constraints() -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(must-links, cannot-links) people decided: reviews and unmerges."""
    must, cannot = [], []
    for a, b, status in MatchReview.objects.exclude(status=MatchReview.Status.PENDING) \
            .values_list("record_a_id", "record_b_id", "status"):
        (must if status == MatchReview.Status.ACCEPTED else cannot).append((a, b))
    for record, apart in RecordSplit.objects.values_list("record_id", "apart_from"):
        cannot += [(record, other) for other in apart]
    return must, cannot


def stable_ids(clusters: list[set[int]], current: dict[int, uuid.UUID],
               events_of: Callable[[set[uuid.UUID]], dict[uuid.UUID, int]] | None = None,
               ) -> dict[int, uuid.UUID]:
    """Each cluster keeps the profile id it shares most records with (each id once);
    the others get new ids. Between profiles holding as many of its records, the one
    with more events (events_of: tied profiles -> counts) keeps its id: the other's
    records and events are the ones moved, and moving an event rewrites it and its index
    entries."""
    holders = _holders(clusters, current)
    events = events_of(_tied(holders)) if events_of else {}
    candidates = []
    for index, counts in enumerate(holders):
        for profile_id, shared in counts.items():
            candidates.append((-shared, -events.get(profile_id, 0), str(profile_id), index,
                               profile_id))
    candidates.sort()
    owner: dict[int, uuid.UUID] = {}
    used: set[uuid.UUID] = set()
    for *_, index, profile_id in candidates:
        if index not in owner and profile_id not in used:
            owner[index] = profile_id
            used.add(profile_id)
    return {record: owner.get(index) or owner.setdefault(index, uuid.uuid4())
            for index, cluster in enumerate(clusters) for record in cluster}


def _holders(clusters: list[set[int]], current: dict[int, uuid.UUID]) -> list[Counter]:
    """Per cluster: current profile -> how many of its records that profile holds."""
    return [Counter(current[r] for r in cluster) for cluster in clusters]


def _tied(holders: list[Counter]) -> set[uuid.UUID]:
    tied: set[uuid.UUID] = set()
    for counts in holders:
        if len(counts) > 1:
            top = max(counts.values())
            best = [pid for pid, n in counts.items() if n == top]
            if len(best) > 1:
                tied.update(best)
    return tied


def tied_profiles(clusters: list[set[int]], current: dict[int, uuid.UUID]) -> set[uuid.UUID]:
    """Profiles that hold as many of a cluster's records as the cluster's best holder:
    the ones whose event counts decide which keeps its id."""
    return _tied(_holders(clusters, current))


def event_counts(profile_ids: set[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Events per profile. On PostgreSQL one query, an index-only count(*) with the ids
    as one array: count(id) read every event's row, and an IN list of 10,000
    parameters per query cost as much again."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT profile_id, count(*) FROM {Event._meta.db_table} "  # noqa: S608
                           "WHERE profile_id = ANY(%s::uuid[]) GROUP BY profile_id",
                           [[str(pid) for pid in profile_ids]])
            return {uuid.UUID(str(pid)): n for pid, n in cursor.fetchall()}
    ids, counts = sorted(profile_ids, key=str), {}
    for start in range(0, len(ids), 10_000):  # SQLite caps a query's parameters
        counts.update(Event.objects.filter(profile_id__in=ids[start:start + 10_000])
                      .values("profile_id").annotate(n=Count("*"))
                      .values_list("profile_id", "n"))
    return counts


def _flags(flagged: list[tuple[str, str, int]], now: dt.datetime) -> None:
    with transaction.atomic():
        IdentifierFlag.objects.all().delete()
        IdentifierFlag.objects.bulk_create([
            IdentifierFlag(kind=kind, bidx=bidx, record_count=n, flagged_at=now)
            for kind, bidx, n in flagged])


def _queue_reviews(explanations: dict, pairs: list[tuple[int, int, float]],
                   clusters_of: dict[int, int], version: int | None, now: dt.datetime) -> int:
    probability = {(a, b): p for a, b, p in pairs}
    reviews = [
        MatchReview(record_a_id=a, record_b_id=b, probability=probability[(a, b)],
                    explanation=steps, model_version=version, created_at=now)
        for (a, b), steps in explanations.items()
        if clusters_of.get(a) != clusters_of.get(b)
    ]
    return len(MatchReview.objects.bulk_create(reviews, ignore_conflicts=True, batch_size=2000))


def resolve_full(*, actor: str, progress: Callable[[str], None] | None = None) -> ResolveResult:
    """Re-resolve every record; returns counts and timings per step."""
    say = progress or (lambda _: None)
    result, now = ResolveResult(), timezone.now()
    model = IdentityModel.objects.filter(active=True).first()
    result.model_version = model.version if model else None
    con, index_write = duckdb.connect(), None
    try:
        started = time.perf_counter()
        result.records = records_table(con)
        result.timings["load_s"] = time.perf_counter() - started
        say(f"loaded {result.records} records")
        must, cannot = constraints()
        split_ids = {a for a, _ in RecordSplit.objects.values_list("record_id", "apart_from")}
        started = time.perf_counter()
        found = deterministic_edges(con, exclude=split_ids)
        labels = components(con, "records", found.edges + must)
        result.timings["deterministic_s"] = time.perf_counter() - started
        result.flagged = len(found.flagged)
        _flags(found.flagged, now)
        say(f"deterministic: {len(found.edges)} links, {result.flagged} values flagged")
        pairs, explanations = [], {}
        started = time.perf_counter()
        if model is not None:
            pairs, explanations = predict(
                con, model.splink_model, threshold=settings.CDP_IDENTITY_REVIEW_THRESHOLD,
                explain_below=settings.CDP_IDENTITY_LINK_THRESHOLD)
        result.timings["predict_s"] = time.perf_counter() - started
        if model is not None:
            started = time.perf_counter()
            # What incremental matching needs until the next full run: computed here, and
            # written on a second connection while this one clusters and moves records.
            index_write = Background(incremental_index(con, model.splink_model))
            result.timings["incremental_index_s"] = time.perf_counter() - started
        say(f"probabilistic: {len(pairs)} scored pairs")
        started = time.perf_counter()
        clusters = constrained_clusters(
            labels, pairs, threshold=settings.CDP_IDENTITY_LINK_THRESHOLD,
            support=settings.CDP_IDENTITY_BRIDGE_SUPPORT, cannot=cannot)
        result.timings["cluster_s"] = time.perf_counter() - started
        current = {rid: uuid.UUID(pid) for rid, pid in
                   con.execute("SELECT unique_id, profile_id FROM records").fetchall()}
    finally:
        con.close()
    try:
        _write(result, clusters, current, pairs, explanations, model, actor, now)
    finally:
        if index_write is not None:
            waited = time.perf_counter()
            result.timings["index_write_s"] = index_write.wait()
            result.timings["index_wait_s"] = time.perf_counter() - waited
    audit_record(actor=actor, action="identity.resolve_full", object_type="identity",
                 details={"records": result.records, "clusters": result.clusters,
                          "moved": result.moved, "merged": result.merged,
                          "reviews": result.reviews, "model": result.model_version})
    say(f"{result.clusters} profiles; {result.moved} records moved, {result.merged} merged")
    return result


def _write(result: ResolveResult, clusters: list[set[int]], current: dict[int, uuid.UUID],
           pairs: list[tuple[int, int, float]], explanations: dict,
           model: IdentityModel | None, actor: str, now: dt.datetime) -> None:
    """Clusters to stable profile ids, the moves, the review queue, golden records."""
    result.clusters = len(clusters)
    started = time.perf_counter()
    assignment = stable_ids(clusters, current, event_counts)
    result.timings["ids_s"] = time.perf_counter() - started
    moves = {rid: pid for rid, pid in assignment.items() if current[rid] != pid}
    best = {}
    for a, b, p in pairs:
        best[a], best[b] = max(best.get(a, 0), p), max(best.get(b, 0), p)
    rule = f"model:v{model.version}" if model else "deterministic"
    change = records_reassign(moves=moves, rule=rule, actor=actor, scores=best,
                              audit_each=False, now=now)
    result.timings["reassign_s"] = time.perf_counter() - started
    result.timings.update({f"reassign_{k}": v for k, v in change.timings.items()})
    result.moved, result.merged = change.moved_records, len(change.retired)
    result.created = len(change.created)
    clusters_of = {record: index for index, cluster in enumerate(clusters) for record in cluster}
    result.reviews = _queue_reviews(explanations, pairs, clusters_of, result.model_version, now)
    stale = set(Profile.objects.filter(golden__isnull=True).values_list("pk", flat=True))
    golden_started = time.perf_counter()
    golden_refresh(profile_ids=change.touched | stale)
    result.timings["golden_s"] = time.perf_counter() - golden_started
    result.timings["write_s"] = time.perf_counter() - started


def record_count() -> int:
    return SourceRecord.objects.count()
