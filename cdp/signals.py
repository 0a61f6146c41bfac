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
profiles_erased: profiles were erased (GDPR Art. 17 request, or retention), with
    profile_ids: list[uuid.UUID], reason: str, request_id: int | None. Every destination
    holding them must delete them (what it needs to find them there, it kept itself
    through a registered eraser: the profile is gone).
records_changed: records were created or changed, with
    source_id: int, external_ids: list[str]. Identity matches them on arrival.
identities_changed: identity resolution moved records between profiles, with
    profile_ids: set[uuid.UUID] (profiles whose records changed) and
    retired: dict[uuid.UUID, uuid.UUID] (merged-away profile id -> the profile it went to).
"""

from django.dispatch import Signal

events_ingested = Signal()
consent_changed = Signal()
profile_restricted = Signal()
profile_unrestricted = Signal()
profiles_erased = Signal()
identities_changed = Signal()
records_changed = Signal()
