"""What every connector provides to the engine, and the shapes they exchange.

A connector knows one vendor's API: how to upsert a batch of members into a container,
take members out of it, delete a person for good, and read the container back. The
engine (connectors.engine) decides who to send; connectors never touch the database.
"""

import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from connectors.http import VendorClient


@dataclass
class OutMember:
    """A member to send: its mapped fields, and whether it joins the container."""

    profile_id: uuid.UUID
    email: str | None
    fields: dict[str, Any]
    field_hash: str
    join: bool = True


@dataclass
class SentMember:
    """A member sent earlier, as needed to take them out again."""

    profile_id: uuid.UUID
    remote_id: str
    email: str | None


@dataclass
class ItemResult:
    profile_id: uuid.UUID
    ok: bool
    remote_id: str = ""
    # Refused for this member (terminal until its data changes) vs try again later.
    error: str = ""
    retryable: bool = False


@dataclass
class RemoteMember:
    remote_id: str
    email: str | None
    status: str
    in_container: bool
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class EraseOutcome:
    status: str  # "done", "failed" (retry later) or "manual"
    response: str


@dataclass(frozen=True)
class Limits:
    """A vendor's documented limits, the defaults of a Destination."""

    rate_per_s: float | None
    concurrency: int
    batch_size: int


class Connector(ABC):
    kind: ClassVar[str]
    limits: ClassVar[Limits]
    # Email tools cannot take a member without an email.
    needs_email: ClassVar[bool] = True
    # The container can be read back (for the nightly reconciliation).
    readable: ClassVar[bool] = True
    # From this many upserts in one run, push_bulk() takes them all at once (a vendor's
    # asynchronous bulk API); None: always in batches through push().
    bulk_threshold: ClassVar[int | None] = None
    # The sets of credential names the vendor accepts, when it takes more than one form
    # (HubSpot: a private-app token, or an OAuth client and refresh token); () = just
    # registry.CREDENTIALS.
    credential_sets: ClassVar[tuple[tuple[str, ...], ...]] = ()

    def __init__(self, *, client: VendorClient, container: dict[str, Any],
                 credentials: dict[str, str]):
        self.client = client
        self.container = container
        self.credentials = credentials
        # Optional, set by the caller: called now and then while a long operation (a bulk
        # job being polled) is still working, e.g. to renew a run's lease.
        self.progress: Callable[[], None] | None = None

    @staticmethod
    @abstractmethod
    def base_url(configured: str, credentials: dict[str, str]) -> str:
        """The API root to call (a configured one, e.g. a fake's, wins)."""

    @staticmethod
    def client_options(credentials: dict[str, str]) -> dict[str, Any]:
        """auth / headers / refresh for the VendorClient."""
        return {}

    @staticmethod
    def container_error(container: dict[str, Any]) -> str | None:
        """Why a sync's container cannot work, beyond registry.CONTAINER's required keys
        (e.g. one of two keys is needed); None when it can."""
        return None

    def prepare(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """Make sure the container exists (e.g. create the Mailchimp tag)."""

    @abstractmethod
    def remote_id(self, member: OutMember) -> str:
        """The vendor's id of this member, known before sending when it can be derived."""

    @abstractmethod
    def push(self, batch: list[OutMember]) -> list[ItemResult]:
        """Upsert the members; those with join=True also enter the container."""

    def push_bulk(self, members: list[OutMember]) -> list[ItemResult]:
        """Like push() for a large change set through a bulk job (see bulk_threshold)."""
        raise NotImplementedError

    @abstractmethod
    def remove(self, batch: list[SentMember]) -> list[ItemResult]:
        """Take the members out of the container (never unsubscribe or delete them)."""

    @abstractmethod
    def erase(self, remote_id: str, container: dict[str, Any]) -> EraseOutcome:
        """Delete the person at the vendor for good (GDPR Art. 17)."""

    def read_back(self) -> Iterator[RemoteMember]:
        """Every member of the container's audience, page by page."""
        raise NotImplementedError
