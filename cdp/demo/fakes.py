"""The demo's vendor accounts: the test suite's fake Mailchimp, HubSpot, Salesforce and
webhook servers, started on free 127.0.0.1 ports so `make run` can show audiences being
synced without any vendor account or network.

`python -m cdp.demo.fakes --info var/demo-fakes.json` starts them in a process of its own
(run_demo.sh stops it on exit), writes what destinations need (URLs, credentials,
containers) to the info file once they answer, and serves until stopped. `demo_fakes()`
starts the same servers in this process (the tests). The fakes keep everything in memory:
a new start is a new, empty account at each vendor.
"""

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MAILCHIMP_LIST = "d3m0l1st01"
SALESFORCE_CAMPAIGN = "CDP demo: lapsing customers"
WEBHOOK_SECRET = "whsec-demo"  # noqa: S105 - the local demo receiver's, not a real secret
# Mistyped domains of the demo data (cdp.demo.data.DOMAIN_TYPOS) that do not exist:
# Mailchimp refuses such addresses ("looks fake or invalid"), as the fake does here.
DEAD_DOMAINS = frozenset({"gmial.com", "hotmial.fr", "orange.fe", "yaho.fr", "fre.fr"})


@contextlib.contextmanager
def demo_fakes() -> Iterator[dict[str, Any]]:
    """Start the four fakes; yields {"info": what setup_demo needs, "servers": the fakes}."""
    from tests.fakes.hubspot import HubspotFake
    from tests.fakes.mailchimp import MailchimpFake
    from tests.fakes.mailchimp.store import REJECTED_DOMAINS
    from tests.fakes.salesforce import SalesforceFake
    from tests.fakes.webhook import WebhookReceiver

    with contextlib.ExitStack() as stack:
        mailchimp = stack.enter_context(MailchimpFake(
            list_ids=(MAILCHIMP_LIST,), rejected_domains=REJECTED_DOMAINS | DEAD_DOMAINS))
        hubspot = stack.enter_context(HubspotFake())
        salesforce = stack.enter_context(SalesforceFake(campaigns=(SALESFORCE_CAMPAIGN,)))
        webhook = stack.enter_context(WebhookReceiver(secret=WEBHOOK_SECRET))
        info = {
            "mailchimp": {"base_url": mailchimp.base_url_template,
                          "credentials": {"api_key": mailchimp.api_key},
                          "container": {"list_id": MAILCHIMP_LIST}},
            "hubspot": {"base_url": hubspot.base_url,
                        "credentials": {"access_token": hubspot.token}},
            "salesforce": {"base_url": salesforce.url,
                           "credentials": {"client_id": salesforce.client_id,
                                           "client_secret": salesforce.client_secret,
                                           "refresh_token": salesforce.refresh_token},
                           "container": {
                               "campaign_id": salesforce.campaign_id(SALESFORCE_CAMPAIGN)}},
            "webhook": {"base_url": "", "credentials": {"secret": WEBHOOK_SECRET},
                        "container": {"url": f"{webhook.url}/cdp-hook"}},
        }
        yield {"info": info, "servers": {"mailchimp": mailchimp, "hubspot": hubspot,
                                         "salesforce": salesforce, "webhook": webhook}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--info", type=Path, required=True,
                        help="where to write the fakes' URLs and credentials (JSON)")
    args = parser.parse_args()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    with demo_fakes() as fakes:
        args.info.parent.mkdir(parents=True, exist_ok=True)
        partial = args.info.with_suffix(".tmp")
        # Created 0600: the fakes' credentials are never readable by others, not even briefly.
        with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
            out.write(json.dumps(fakes["info"], indent=1))
        os.replace(partial, args.info)  # whole or absent: the reader never sees half
        print(f"demo vendor fakes ready ({args.info})", file=sys.stderr, flush=True)
        stop.wait()
    args.info.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
