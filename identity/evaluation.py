"""Quality against a truth file: pairwise precision, recall, F1; over/under-merged."""

import csv
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cdp.models import SourceRecord


def identity_map() -> Iterator[tuple[str, str, str]]:
    """(source, external_id, profile_id) of every record."""
    rows = SourceRecord.objects.order_by("pk").values_list(
        "source__name", "external_id", "profile_id")
    for source, external_id, profile_id in rows.iterator(chunk_size=10_000):
        yield source, external_id, str(profile_id)


@dataclass
class Quality:
    precision: float
    recall: float
    f1: float
    records: int
    over_merged: int  # profiles holding more than one true entity
    under_merged: int  # entities spread over more than one profile


def _pairs(groups: Iterable[list[str]]) -> int:
    return sum(len(g) * (len(g) - 1) // 2 for g in groups)


def quality(predicted: dict[tuple[str, str], str], truth: dict[tuple[str, str], str]) -> Quality:
    keys = predicted.keys() & truth.keys()
    by_profile, by_entity = defaultdict(list), defaultdict(list)
    both = defaultdict(list)
    for key in keys:
        by_profile[predicted[key]].append(key)
        by_entity[truth[key]].append(key)
        both[(predicted[key], truth[key])].append(key)
    true_positive = _pairs(both.values())
    predicted_pairs, true_pairs = _pairs(by_profile.values()), _pairs(by_entity.values())
    precision = true_positive / predicted_pairs if predicted_pairs else 1.0
    recall = true_positive / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    over = sum(1 for members in by_profile.values() if len({truth[k] for k in members}) > 1)
    under = sum(1 for members in by_entity.values() if len({predicted[k] for k in members}) > 1)
    return Quality(precision, recall, f1, len(keys), over, under)


def truth_read(path: Path) -> dict[tuple[str, str], str]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"source", "external_id", "entity_id"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path.name}: missing columns {', '.join(sorted(missing))}")
        return {(row["source"], row["external_id"]): row["entity_id"] for row in reader}
