"""Signals of the segments app; connectors subscribe (dependencies point one way).

membership_changed: sent after commit when a run changed a segment's members, with
    segment_id: int, run_id: int | None, added: int, removed: int.
"""

from django.dispatch import Signal

membership_changed = Signal()
