"""Fitted pipelines as bytes: joblib, compressed, checked by SHA-256 when loaded.

The pipeline holds aggregates only (medians, scales, frequent category values, tree
thresholds over leaves of at least 20 profiles, centroids), never a row of a person.
Loading unpickles: only ever load bytes this application wrote into its own database.
"""

from __future__ import annotations

import hashlib
import io
from functools import lru_cache
from typing import Any

import joblib


class ArtifactCorrupt(ValueError):
    """The stored bytes do not match their recorded SHA-256."""


def pipeline_dump(pipeline: Any) -> tuple[bytes, str]:
    buffer = io.BytesIO()
    joblib.dump(pipeline, buffer, compress=3)
    data = buffer.getvalue()
    return data, hashlib.sha256(data).hexdigest()


@lru_cache(maxsize=8)
def _load(digest: str, data: bytes) -> Any:
    return joblib.load(io.BytesIO(data))  # noqa: S301 - our own artifact, digest checked


def pipeline_load(data: bytes | memoryview, digest: str) -> Any:
    raw = bytes(data)
    if hashlib.sha256(raw).hexdigest() != digest:
        raise ArtifactCorrupt("model artifact does not match its SHA-256")
    return _load(digest, raw)
