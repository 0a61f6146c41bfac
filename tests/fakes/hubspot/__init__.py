"""Fake HubSpot CRM API (contacts, lists v3, OAuth): `HubspotFake` and what tests need.

Usage: `with HubspotFake() as fake:` then call `fake.base_url` with
`Authorization: Bearer {fake.token}` (a private-app token), or get OAuth access tokens
from `/oauth/v1/token` with `fake.client_id`, `fake.client_secret`, `fake.refresh_token`.
Inspect `fake.contacts()`, `fake.list_members("cdp: brest")`, `fake.gdpr_deleted()`,
`fake.requests(write=True)`. See `server.py` for what is faithful and what is not.
"""

from tests.fakes.hubspot.auth import ALL_SCOPES
from tests.fakes.hubspot.server import (
    CLIENT_ID,
    CLIENT_SECRET,
    DEFAULT_TOKEN,
    REFRESH_TOKEN,
    HubspotFake,
    hubspot_limits,
)

__all__ = ["ALL_SCOPES", "CLIENT_ID", "CLIENT_SECRET", "DEFAULT_TOKEN", "REFRESH_TOKEN",
           "HubspotFake", "hubspot_limits"]
