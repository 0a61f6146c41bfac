"""What other apps must do when subjects are erased, registered so cdp never imports them.

An eraser runs inside the erasure transaction, before the core deletes profiles, with
the profile ids and the request (None for a retention purge). It deletes its app's data
about them (or queues deletes at a destination, keeping what it needs to find the person
there) and returns counts for the register, e.g. {"segment_memberships": 3}.
"""

import uuid
from collections.abc import Callable, Sequence

from cdp.models import SubjectRequest

Eraser = Callable[[Sequence[uuid.UUID], SubjectRequest | None], dict[str, int]]
_ERASERS: list[Eraser] = []


def register_eraser(eraser: Eraser) -> None:
    """Called from an app's ready()."""
    if eraser not in _ERASERS:
        _ERASERS.append(eraser)


def run_erasers(
    profile_ids: Sequence[uuid.UUID], request: SubjectRequest | None
) -> dict[str, int]:
    counts: dict[str, int] = {}
    for eraser in _ERASERS:
        counts.update(eraser(profile_ids, request))
    return counts
