"""Access requests name the destinations a person was sent to (GDPR Art. 15(1)(c))."""

import io
import json
import zipfile

from cdp.services.dsar import dsar_access
from connectors.engine import sync_run


def test_archive_lists_recipients_and_when(audience, mailchimp, mailchimp_sync):
    audience.add(2)
    audience.evaluate()
    sync_run(sync_id=mailchimp_sync.pk)
    archive = dsar_access(profile_ids=[audience.profile(1)], identified_by="profile",
                          actor="dpo")
    document = json.loads(zipfile.ZipFile(io.BytesIO(archive)).read("subject.json"))
    (recipient,) = document["recipients"]
    assert recipient["destination"] == "mc" and recipient["kind"] == "mailchimp"
    assert recipient["purpose"] == "email_marketing" and recipient["in_audience"] is True
    assert recipient["last_sent_at"]
