"""Signals the core domain sends; other apps subscribe (dependencies point one way).

events_ingested: sent after commit of a batch of new events, with
    profile_ids: set[uuid.UUID], event_types: set[str], source: Source.
"""

from django.dispatch import Signal

events_ingested = Signal()
