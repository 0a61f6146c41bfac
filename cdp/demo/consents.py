"""Consent histories per record: what each source's forms and banners would have captured.

Newsletter signups grant email marketing (some unsubscribe later), the shop's account form
and cookie banner record choices for every purpose, the CRM captures in-store opt-ins and
relies on legitimate interest for loyalty profiling. Evidence never holds an IP address:
web captures carry one (from documentation ranges) for the ledger to keep as a keyed hash.
"""

import datetime as dt
import hashlib
import random
from dataclasses import dataclass, field
from typing import Any

from cdp.demo.data import MONTH_THEMES, Weighted
from cdp.demo.records import DemoRecord

PURPOSES: tuple[str, ...] = (
    "email_marketing", "sms_marketing", "ads_targeting", "profiling", "partner_sharing",
)
# consents_<source>.csv, shaped for import_consents: evidence keys are columns of their own.
EVIDENCE_COLUMNS: tuple[str, ...] = (
    "form", "campaign", "double_opt_in", "choice", "banner", "store", "request",
)
CONSENT_COLUMNS: tuple[str, ...] = (
    "external_id", "purpose", "status", "captured_at", "lawful_basis", "channel",
    "notice_version", "notice_hash", "ip", "user_agent", *EVIDENCE_COLUMNS,
)
_RENEWAL = dt.timedelta(days=395)  # the CNIL's 13 months for cookie choices
_BANNER_CHOICES = Weighted(("accept-all", "reject-all", "customize"), (50, 30, 20))
# Documentation ranges (RFC 5737): realistic, never anyone's address.
_IP_PREFIXES: tuple[str, ...] = ("192.0.2", "198.51.100", "203.0.113")
_USER_AGENTS: tuple[str, ...] = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
)


def notice_text(version: str) -> str:
    """The privacy notice of a version, as the person read it (its SHA-256 is kept)."""
    return (
        f"Politique de confidentialité, version {version}. Vos données servent à gérer "
        "votre compte et vos commandes; avec votre accord, à vous écrire (email, SMS), à "
        "personnaliser publicités et offres, et à les partager avec nos partenaires. Vous "
        "pouvez retirer votre consentement à tout moment (lien de désinscription, compte "
        "client, service client)."
    )


@dataclass
class DemoConsent:
    source: str
    external_id: str
    purpose: str
    status: str
    captured_at: dt.datetime
    channel: str
    evidence: dict[str, str] = field(default_factory=dict)
    lawful_basis: str = "consent"

    @property
    def notice_version(self) -> str:
        """The privacy notice in force: a new version every half year."""
        return f"{self.captured_at.year}.{1 if self.captured_at.month <= 6 else 2}"

    def raw(self) -> dict[str, Any]:
        """The entry as a source would send it to consents_record. A web capture carries
        the browser's IP and user agent (derived from the entry, so reruns match)."""
        item: dict[str, Any] = {
            **self.evidence, "external_id": self.external_id, "purpose": self.purpose,
            "status": self.status, "lawful_basis": self.lawful_basis, "channel": self.channel,
            "captured_at": self.captured_at.isoformat(),
        }
        if self.status != "withdrawn":  # a withdrawal (unsubscribe link...) shows no notice
            item["notice_version"] = self.notice_version
            item["notice_text"] = notice_text(self.notice_version)
        if self.channel == "web":
            seed = hashlib.sha256(f"{self.external_id}:{self.captured_at}".encode()).digest()
            item["ip"] = f"{_IP_PREFIXES[seed[0] % len(_IP_PREFIXES)]}.{seed[1] % 254 + 1}"
            item["user_agent"] = _USER_AGENTS[seed[2] % len(_USER_AGENTS)]
        return item

    def row(self) -> dict[str, str]:
        """A line of consents_<source>.csv: the notice by its SHA-256 rather than its text."""
        item = self.raw()
        text = item.pop("notice_text", None)
        if text is not None:
            item["notice_hash"] = hashlib.sha256(text.encode()).hexdigest()
        return {key: str(value) for key, value in item.items()}


@dataclass
class ConsentHistory:
    entries: list[DemoConsent] = field(default_factory=list)
    # Email marketing allowed from .. until (None: never granted / still granted).
    email_from: dt.datetime | None = None
    email_until: dt.datetime | None = None


def _later(start: dt.datetime, end: dt.datetime, rng: random.Random) -> dt.datetime:
    seconds = max((end - start).total_seconds(), 60.0)
    return (start + dt.timedelta(seconds=rng.uniform(30, seconds))).replace(microsecond=0)


def _add(history: ConsentHistory, rec: DemoRecord, purpose: str, status: str,
         at: dt.datetime, channel: str, evidence: dict[str, str], basis: str = "consent") -> None:
    history.entries.append(
        DemoConsent(rec.source, rec.external_id, purpose, status, at, channel, evidence, basis)
    )
    if purpose == "email_marketing":
        if status == "granted":
            history.email_from, history.email_until = at, None
        elif history.email_from is not None and history.email_until is None:
            history.email_until = at


def _newsletter(rec: DemoRecord, rng: random.Random, as_of: dt.datetime,
                history: ConsentHistory) -> None:
    at, form = rec.since, rec.attributes["signup_form"]
    evidence = {"form": form, "campaign": f"{MONTH_THEMES[at.month - 1]}-{at.year}"}
    if rng.random() < 0.05:
        # The confirmation email of the double opt-in was never clicked.
        expired = min(at + dt.timedelta(days=7), as_of)
        _add(history, rec, "email_marketing", "denied", expired, "email",
             {**evidence, "double_opt_in": "expired"})
        return
    _add(history, rec, "email_marketing", "granted", at, "web",
         {**evidence, "double_opt_in": "confirmed"})
    share = rng.random()
    if share < 0.12:
        _add(history, rec, "partner_sharing", "granted", at, "web", evidence)
    elif share < 0.5:
        _add(history, rec, "partner_sharing", "denied", at, "web", evidence)
    if rng.random() < 0.18:
        _add(history, rec, "email_marketing", "withdrawn", _later(at, as_of, rng), "email",
             {"form": "unsubscribe-link"})


def _banner(rec: DemoRecord, rng: random.Random, at: dt.datetime,
            history: ConsentHistory) -> None:
    choice = _BANNER_CHOICES.pick(rng)
    evidence = {"form": "cookie-banner", "choice": choice, "banner": "tcf-2.2"}
    for purpose in ("ads_targeting", "profiling"):
        granted = choice == "accept-all" or (choice == "customize" and rng.random() < 0.4)
        _add(history, rec, purpose, "granted" if granted else "denied", at, "web", evidence)


def _shop(rec: DemoRecord, rng: random.Random, as_of: dt.datetime,
          history: ConsentHistory) -> None:
    at = rec.since
    guest = rec.attributes.get("account_type") == "invité"
    evidence = {"form": "checkout-optin" if guest else "account-signup"}
    _add(history, rec, "email_marketing", "granted" if rng.random() < 0.4 else "denied",
         at, "web", evidence)
    if "phone" in rec.values and not guest:
        _add(history, rec, "sms_marketing", "granted" if rng.random() < 0.15 else "denied",
             at, "web", evidence)
    _banner(rec, rng, at + dt.timedelta(seconds=rng.randrange(2, 90)), history)
    if as_of - at > _RENEWAL + dt.timedelta(days=30) and rng.random() < 0.6:
        _banner(rec, rng, at + _RENEWAL + dt.timedelta(days=rng.uniform(0, 30)), history)
    if history.email_from is not None and rng.random() < 0.12:
        form = rng.choice(("account-preferences", "unsubscribe-link"))
        _add(history, rec, "email_marketing", "withdrawn", _later(at, as_of, rng),
             "web" if form == "account-preferences" else "email", {"form": form})


def _crm(rec: DemoRecord, rng: random.Random, as_of: dt.datetime,
         history: ConsentHistory) -> None:
    at = rec.since
    store = {"form": "store-signup", "store": rec.attributes["store"]}
    if rng.random() < 0.8:
        _add(history, rec, "email_marketing", "granted" if rng.random() < 0.55 else "denied",
             at, "store", store)
        if "phone" in rec.values:
            _add(history, rec, "sms_marketing", "granted" if rng.random() < 0.35 else "denied",
                 at, "store", store)
        share = rng.random()
        if share < 0.05 or share > 0.8:
            _add(history, rec, "partner_sharing", "granted" if share < 0.05 else "denied",
                 at, "store", store)
    if "loyalty_tier" in rec.attributes:
        _add(history, rec, "profiling", "granted", at, "store",
             {"form": "programme-fidelite", "store": rec.attributes["store"]},
             basis="legitimate_interests")
        if rng.random() < 0.05:
            # An objection to profiling, made by phone to customer service.
            _add(history, rec, "profiling", "denied", _later(at, as_of, rng), "phone",
                 {"form": "service-client", "request": "opposition"},
                 basis="legitimate_interests")


def record_consents(rec: DemoRecord, rng: random.Random, as_of: dt.datetime) -> ConsentHistory:
    """The consent entries a record's source captured, oldest first."""
    history = ConsentHistory()
    {"newsletter": _newsletter, "shop": _shop, "crm": _crm}[rec.source](
        rec, rng, as_of, history
    )
    history.entries.sort(key=lambda c: c.captured_at)
    return history
