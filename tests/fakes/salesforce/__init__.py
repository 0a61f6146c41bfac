"""Fake Salesforce REST API: `SalesforceFake` and the helpers tests need.

Usage: `with SalesforceFake() as fake:` then get a token at `fake.token_url` with
`fake.client_id`, `fake.client_secret` and `fake.refresh_token`, and call
`{instance_url}/services/data/v62.0/...` with the access token; inspect
`fake.contacts()`, `fake.campaign_emails(fake.campaign_id("CDP: Brest"))`,
`fake.requests(write=True)`. See `server.py` for what is faithful and what is not.
"""

from tests.fakes.salesforce.auth import jwt_unsigned
from tests.fakes.salesforce.schema import Field, id18, make_id
from tests.fakes.salesforce.server import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REFRESH_TOKEN,
    DEFAULT_USER,
    SalesforceFake,
    salesforce_limits,
)

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_REFRESH_TOKEN",
    "DEFAULT_USER",
    "Field",
    "SalesforceFake",
    "id18",
    "jwt_unsigned",
    "make_id",
    "salesforce_limits",
]
