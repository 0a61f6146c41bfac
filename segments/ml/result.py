"""What a training produces, whatever the kind of model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # scikit-learn loads only where models are trained or scored
    from sklearn.pipeline import Pipeline


class TrainingError(ValueError):
    """The data cannot train this model (too few rows, a single class, no group)."""


@dataclass
class Trained:
    """A fitted Pipeline and the evidence kept with its version."""

    pipeline: Pipeline
    algorithm: str
    params: dict[str, Any]
    metrics: dict[str, Any]
    charts: dict[str, str]
    reference: dict[str, Any] = field(default_factory=dict)
    clusters: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
