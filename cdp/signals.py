"""Signals the core domain sends; other apps subscribe (dependencies point one way).

All are sent after commit, so receivers see what was written.

events_ingested: a batch of new events, with
    profile_ids: set[uuid.UUID], event_types: set[str], source: Source.
consent_changed: new consent entries, with
    profile_ids: set[uuid.UUID], purposes: set[str], statuses: set[str].
    A withdrawal or denial must take the profiles out of what the purpose feeds.
profile_restricted: processing of a profile was restricted (GDPR Art. 18), with
    profile_id: uuid.UUID, reason: str. It must leave every segment and destination.
profile_unrestricted: the restriction was lifted, with profile_id: uuid.UUID, reason: str.
"""

from django.dispatch import Signal

events_ingested = Signal()
consent_changed = Signal()
profile_restricted = Signal()
profile_unrestricted = Signal()
