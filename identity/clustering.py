"""From links to clusters, without letting weak links chain different people together.

1. Deterministic links and must-links (accepted reviews) join records at once: connected
   components computed in DuckDB by label propagation (set-based).
2. Probabilistic links at or above the link threshold then join groups under two rules:
   never across a cannot-link (a rejected review, an unmerge); and a group pair joins
   only when its links cover at least CDP_IDENTITY_BRIDGE_SUPPORT of the smaller group
   (two singletons need one link; two families of five need more than one stray link).
   Strongest links first, repeated until nothing more joins.
"""

from collections import defaultdict
from collections.abc import Iterable

import duckdb
import pyarrow as pa


class Groups:
    """Union-find over record ids, with sizes and the cannot-links each group carries."""

    def __init__(self, ids: Iterable[int]):
        self.parent = {i: i for i in ids}
        self.size = dict.fromkeys(self.parent, 1)
        self.cannot: dict[int, set[int]] = defaultdict(set)  # root -> records it refuses
        self.members: dict[int, set[int]] = {i: {i} for i in self.parent}

    def find(self, item: int) -> int:
        root = item
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[item] != root:
            self.parent[item], item = root, self.parent[item]
        return root

    def forbid(self, a: int, b: int) -> None:
        self.cannot[self.find(a)].add(b)
        self.cannot[self.find(b)].add(a)

    def allowed(self, ra: int, rb: int) -> bool:
        return not (self.cannot[ra] & self.members[rb] or self.cannot[rb] & self.members[ra])

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb or not self.allowed(ra, rb):
            return False
        if self.size[ra] < self.size[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.size[ra] += self.size.pop(rb)
        self.members[ra] |= self.members.pop(rb)
        self.cannot[ra] |= self.cannot.pop(rb, set())
        return True

    def clusters(self) -> list[set[int]]:
        return [set(m) for m in self.members.values()]


def components(con: duckdb.DuckDBPyConnection, ids_table: str,
               edges: list[tuple[int, int]]) -> dict[int, int]:
    """record id -> component label (the smallest id in it), by label propagation."""
    # Through Arrow, not executemany: a million edges take seconds instead of minutes.
    table = pa.table({"a": pa.array([e[0] for e in edges], pa.int64()),
                      "b": pa.array([e[1] for e in edges], pa.int64())})
    con.register("_edges_in", table)
    con.execute("CREATE OR REPLACE TEMP TABLE _edges AS SELECT a, b FROM _edges_in")
    con.unregister("_edges_in")
    con.execute("CREATE OR REPLACE TEMP TABLE _e AS SELECT a, b FROM _edges "
                "UNION ALL SELECT b, a FROM _edges")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _lbl AS SELECT unique_id AS id, "  # noqa: S608
                f"unique_id AS label FROM {ids_table}")
    while True:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _next AS SELECT l.id, "
            "least(l.label, coalesce(min(n.label), l.label)) AS label FROM _lbl l "
            "LEFT JOIN _e ON _e.a = l.id LEFT JOIN _lbl n ON n.id = _e.b GROUP BY l.id, l.label"
        )
        # Pointer jumping: take the label of the label, halving the rounds needed.
        con.execute("CREATE OR REPLACE TEMP TABLE _next AS SELECT x.id, "
                    "least(x.label, y.label) AS label FROM _next x JOIN _next y ON y.id = x.label")
        changed = con.execute("SELECT count(*) FROM _next JOIN _lbl USING (id) "
                              "WHERE _next.label <> _lbl.label").fetchone()[0]
        con.execute("CREATE OR REPLACE TEMP TABLE _lbl AS SELECT * FROM _next")
        if not changed:
            return dict(con.execute("SELECT id, label FROM _lbl").fetchall())


def constrained_clusters(
    labels: dict[int, int],
    links: list[tuple[int, int, float]],
    *,
    threshold: float,
    support: float,
    cannot: Iterable[tuple[int, int]] = (),
    must: Iterable[tuple[int, int]] = (),
) -> list[set[int]]:
    """Final clusters from components (labels), weighted links and constraints."""
    groups = Groups(labels)
    for a, b in cannot:
        if a in groups.parent and b in groups.parent:
            groups.forbid(a, b)
    by_label: dict[int, list[int]] = defaultdict(list)
    for record, label in labels.items():
        by_label[label].append(record)
    for members in by_label.values():
        for record in members[1:]:
            groups.union(members[0], record)
    for a, b in must:
        if a in groups.parent and b in groups.parent:
            groups.union(a, b)
    strong = sorted((link for link in links if link[2] >= threshold), key=lambda x: -x[2])
    while True:
        support_of: dict[tuple[int, int], int] = defaultdict(int)
        for a, b, _ in strong:
            ra, rb = groups.find(a), groups.find(b)
            if ra != rb:
                support_of[(min(ra, rb), max(ra, rb))] += 1
        joined = False
        for a, b, _ in strong:
            ra, rb = groups.find(a), groups.find(b)
            if ra == rb:
                continue
            count = support_of.get((min(ra, rb), max(ra, rb)), 0)
            smaller = min(groups.size[ra], groups.size[rb])
            if count >= max(1, support * smaller) and groups.union(a, b):
                joined = True
        if not joined:
            return groups.clusters()
