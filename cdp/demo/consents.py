"""Consent histories per record: what each source's forms and banners would have captured.

Newsletter signups grant email marketing (some unsubscribe later), the shop's account form
and cookie banner record choices for every purpose, the CRM captures in-store opt-ins and
relies on legitimate interest for loyalty profiling. Evidence never holds an IP address.
"""

import datetime as dt
import json
import random
from dataclasses import dataclass, field

from cdp.demo.data import MONTH_THEMES, Weighted
from cdp.demo.records import DemoRecord

PURPOSES: tuple[str, ...] = (
    "email_marketing", "sms_marketing", "ads_targeting", "profiling", "partner_sharing",
)
CONSENT_COLUMNS: tuple[str, ...] = (
    "source", "external_id", "purpose", "status", "lawful_basis", "channel",
    "notice_version", "captured_at", "evidence",
)
_RENEWAL = dt.timedelta(days=395)  # the CNIL's 13 months for cookie choices
_BANNER_CHOICES = Weighted(("accept-all", "reject-all", "customize"), (50, 30, 20))


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

    def row(self) -> dict[str, str]:
        return {
            "source": self.source, "external_id": self.external_id, "purpose": self.purpose,
            "status": self.status, "lawful_basis": self.lawful_basis, "channel": self.channel,
            "notice_version": self.notice_version,
            "captured_at": self.captured_at.isoformat(),
            "evidence": json.dumps(self.evidence, ensure_ascii=False, sort_keys=True),
        }


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
             basis="legitimate_interest")
        if rng.random() < 0.05:
            # An objection to profiling, made by phone to customer service.
            _add(history, rec, "profiling", "denied", _later(at, as_of, rng), "phone",
                 {"form": "service-client", "request": "opposition"},
                 basis="legitimate_interest")


def record_consents(rec: DemoRecord, rng: random.Random, as_of: dt.datetime) -> ConsentHistory:
    """The consent entries a record's source captured, oldest first."""
    history = ConsentHistory()
    {"newsletter": _newsletter, "shop": _shop, "crm": _crm}[rec.source](
        rec, rng, as_of, history
    )
    history.entries.sort(key=lambda c: c.captured_at)
    return history
