"""Fake Mailchimp Marketing API v3: `MailchimpFake` and the helpers tests need.

Usage: `with MailchimpFake() as fake:` then call `fake.base_url` with
`auth=("any", fake.api_key)`; inspect `fake.members()`, `fake.tag_members("cdp:vip")`,
`fake.requests(write=True)`. See `server.py` for what is faithful and what is not.
"""

from tests.fakes.mailchimp.server import DEFAULT_KEY, MailchimpFake, mailchimp_limits
from tests.fakes.mailchimp.store import subscriber_hash

__all__ = ["DEFAULT_KEY", "MailchimpFake", "mailchimp_limits", "subscriber_hash"]
