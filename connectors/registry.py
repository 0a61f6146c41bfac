"""Connector classes by destination kind, and how to build one for a sync."""

import json
from typing import Any

from cdp.privacy.crypto import decrypt, encrypt
from connectors.base import Connector, Limits
from connectors.http import CallStats, Pacing, VendorClient
from connectors.hubspot import HubspotConnector
from connectors.mailchimp import MailchimpConnector
from connectors.models import AudienceSync, Destination
from connectors.salesforce import SalesforceConnector
from connectors.webhook import WebhookConnector

CONNECTORS: dict[str, type[Connector]] = {
    Destination.Kind.MAILCHIMP: MailchimpConnector,
    Destination.Kind.HUBSPOT: HubspotConnector,
    Destination.Kind.SALESFORCE: SalesforceConnector,
    Destination.Kind.WEBHOOK: WebhookConnector,
}
# The secrets each kind needs, and the container keys each sync of it needs.
CREDENTIALS: dict[str, tuple[str, ...]] = {
    "mailchimp": ("api_key",), "webhook": ("secret",),
    "hubspot": ("access_token",),  # private app; OAuth: HubspotConnector.credential_sets
    "salesforce": ("client_id", "client_secret", "refresh_token"),  # connected app, OAuth2
}
CONTAINER: dict[str, tuple[str, ...]] = {
    "mailchimp": ("list_id", "tag"), "webhook": ("url",),
    "hubspot": (),  # list_id or list_name: checked by HubspotConnector.prepare()
    "salesforce": ("campaign_id",),
}
_FIELD = "destination.credentials"


def credentials_seal(credentials: dict[str, str]) -> bytes | None:
    """Destination secrets as one AES-GCM ciphertext under the master key."""
    return encrypt(json.dumps(credentials, sort_keys=True), field=_FIELD)


def credentials_open(destination: Destination) -> dict[str, str]:
    plain = decrypt(destination.credentials_enc, field=_FIELD)
    return json.loads(plain) if plain else {}


def credentials_rotate() -> tuple[int, int]:
    """Re-encrypt destination credentials under the primary master key (rotate_keys)."""
    from django.db import transaction

    from cdp.privacy.crypto import needs_rotation

    scanned = rotated = 0
    with transaction.atomic():
        for destination in Destination.objects.select_for_update().exclude(
                credentials_enc=None):
            scanned += 1
            if needs_rotation(destination.credentials_enc):
                destination.credentials_enc = credentials_seal(credentials_open(destination))
                destination.save(update_fields=["credentials_enc"])
                rotated += 1
    return scanned, rotated


def credentials_keep(destination: Destination, connector: Connector) -> None:
    """A vendor that rotates refresh tokens handed the connector a new one: keep it, or
    the next run would present a spent token."""
    if connector.credentials and connector.credentials != credentials_open(destination):
        Destination.objects.filter(pk=destination.pk).update(
            credentials_enc=credentials_seal(connector.credentials))


def limits_for(destination: Destination) -> Limits:
    """The destination's own settings where given, else the vendor's documented limits."""
    vendor = CONNECTORS[destination.kind].limits
    return Limits(
        rate_per_s=destination.rate_per_s if destination.rate_per_s else vendor.rate_per_s,
        concurrency=destination.max_concurrency or vendor.concurrency,
        batch_size=min(destination.batch_size or vendor.batch_size, vendor.batch_size),
    )


def connector_for(
    sync: AudienceSync, *, stats: CallStats | None = None, container: dict[str, Any] | None = None
) -> Connector:
    """The connector of a sync's destination, talking to the sync's container."""
    context = {"sync_id": sync.pk, "segment": sync.segment.slug}
    return destination_connector(sync.destination, {**context, **(container or sync.container)},
                                 stats=stats)


def destination_connector(
    destination: Destination, container: dict[str, Any], *, stats: CallStats | None = None
) -> Connector:
    cls = CONNECTORS[destination.kind]
    credentials = credentials_open(destination)
    limits = limits_for(destination)
    client = VendorClient(
        base_url=cls.base_url(destination.base_url, credentials),
        pacing=Pacing(rate_per_s=limits.rate_per_s, concurrency=limits.concurrency,
                      timeout_s=destination.timeout_s, max_retries=destination.max_retries),
        stats=stats, **cls.client_options(credentials),
    )
    return cls(client=client, container=container, credentials=credentials)
