"""Each source's view of a Person: which sources know them and with what mistakes.

The CRM is rich but stale (old addresses, capitals typed by clerks), the shop is typed
by the customers themselves, the newsletter knows little more than an email address.
"""

import datetime as dt
import random
from collections import Counter
from dataclasses import dataclass, field

from cdp.demo import noise
from cdp.demo.data import LOYALTY_TIERS, SIGNUP_FORMS, STORES, Weighted
from cdp.demo.people import Address, Person, scramble
from cdp.fields import STANDARD_FIELDS

SOURCES: tuple[str, ...] = ("crm", "shop", "newsletter")
# CSV header of each source: external_id, its standard fields, then its own columns
# (which the importer stores as attributes).
RECORD_COLUMNS: dict[str, tuple[str, ...]] = {
    "crm": ("external_id", *STANDARD_FIELDS, "loyalty_tier", "store", "client_since"),
    "shop": ("external_id", *(f for f in STANDARD_FIELDS if f != "region"),
             "account_type", "account_created"),
    "newsletter": ("external_id", "email", "first_name", "postcode", "signup_form",
                   "signup_date"),
}
_TIERS = Weighted.of(LOYALTY_TIERS)
_FORMS = Weighted.of(SIGNUP_FORMS)
_ONLY_SOURCE = Weighted(SOURCES, (45, 35, 20))


@dataclass
class DemoRecord:
    source: str
    external_id: str
    # Standard fields as the source holds them (noisy, sometimes invalid); absent = blank.
    values: dict[str, str]
    attributes: dict[str, str]
    # When the source first knew the person; events and consents come after.
    since: dt.datetime
    # The working address the source mails to (None when it has none).
    email: str | None = None
    customer_id: str | None = None
    # Names of the fields holding garbage on purpose, for tests and the curious.
    garbage: list[str] = field(default_factory=list)

    def raw(self) -> dict[str, object]:
        """The record as an API item / record_parse input."""
        return {"external_id": self.external_id, **self.values, "attributes": self.attributes}

    def row(self) -> dict[str, str]:
        """The record as a CSV row of RECORD_COLUMNS[source]."""
        return {"external_id": self.external_id, **self.values, **self.attributes}


class IdMaker:
    """Per-source counters turned into ids that look like the real systems' ones."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def _next(self, kind: str) -> int:
        self.counts[kind] += 1
        return self.counts[kind]

    def crm(self) -> str:
        return f"CRM-{scramble(self._next('crm'), 10**7, key=0):07d}"

    def shop(self) -> str:
        return f"SHOP-{scramble(self._next('shop'), 2**32, key=1):08x}"

    def newsletter(self) -> str:
        number, digits = scramble(self._next("newsletter"), 36**6, key=2), ""
        for _ in range(6):
            number, rest = divmod(number, 36)
            digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[rest] + digits
        return f"NL-{digits}"

    def customer_id(self) -> str:
        return f"C{scramble(self._next('customer'), 10**7, key=3):07d}"

    def order(self) -> str:
        return f"CMD-{scramble(self._next('order'), 10**9, key=5):09d}"


def _days_before(as_of: dt.datetime, rng: random.Random, low: float, high: float) -> dt.datetime:
    """A day in the window, during opening hours (UTC 07:00-19:59)."""
    day = as_of - dt.timedelta(days=rng.randint(int(low) + 1, int(high)))
    return day.replace(hour=rng.randrange(7, 20), minute=rng.randrange(60),
                       second=rng.randrange(60), microsecond=0)


def _names(person: Person, rng: random.Random, rate: float, out: dict[str, str]) -> None:
    first = noise.name_variant(person.first_name, rng, rate)
    last = noise.name_variant(person.last_name, rng, rate)
    if rng.random() < 0.03:
        first, last = last, first
    out["first_name"], out["last_name"] = first, last


def _email(person: Person, rng: random.Random, rate: float, garbage: float,
           rec: DemoRecord) -> None:
    email = noise.email_variant(person.email, person.alt_email, rng, rate)
    rec.email = email.strip()
    if rng.random() < garbage:
        rec.values["email"] = noise.garbage_email(rec.email, rng)
        rec.garbage.append("email")
    else:
        rec.values["email"] = email


def _phone(person: Person, rng: random.Random, share: float, rec: DemoRecord) -> None:
    number = person.mobile if person.mobile and rng.random() < 0.85 else person.landline
    if number is None or rng.random() >= share:
        return
    if rng.random() < 0.02:
        rec.values["phone"] = noise.garbage_phone(number, rng)
        rec.garbage.append("phone")
    else:
        rec.values["phone"] = noise.phone_format(number, rng)


def _birth_date(person: Person, rng: random.Random, share: float, rec: DemoRecord) -> None:
    if rng.random() >= share:
        return
    if rng.random() < 0.02:
        rec.values["birth_date"] = noise.garbage_date(person.birth_date, rng)
        rec.garbage.append("birth_date")
    else:
        day = noise.date_variant(person.birth_date, rng, 0.03)
        rec.values["birth_date"] = noise.date_format(day, rng)


def _address(address: Address, rng: random.Random, rate: float, out: dict[str, str],
             region: bool) -> None:
    out["address_line1"] = noise.address_variant(address.line1, rng, rate)
    if address.line2 and rng.random() < 0.8:
        out["address_line2"] = address.line2
    code = address.postcode
    out["postcode"] = code if rng.random() > 0.03 else f"{code[:2]} {code[2:]}"
    out["city"] = noise.city_variant(address.city, rng, rate)
    if region and rng.random() < 0.6:
        out["region"] = address.region
    country = noise.country(rng)
    if country:
        out["country"] = country


def crm_record(person: Person, rng: random.Random, ids: IdMaker, as_of: dt.datetime,
               customer_id: str | None) -> DemoRecord:
    """Full but dated: clerks type capitals, and a move is often not reported."""
    since = _days_before(as_of, rng, 20, 3650)
    rec = DemoRecord("crm", ids.crm(), {}, {}, since, customer_id=customer_id)
    _names(person, rng, 0.3, rec.values)
    if rng.random() < 0.03:
        del rec.values["first_name"]
    if rng.random() < 0.9:
        _email(person, rng, 0.2, 0.01, rec)
    _phone(person, rng, 0.8, rec)
    _birth_date(person, rng, 0.6, rec)
    if rng.random() < 0.85:
        stale = person.old_address is not None and rng.random() < 0.6
        _address(person.old_address if stale else person.address, rng, 0.25, rec.values,
                 region=True)
    if person.company and rng.random() < 0.7:
        rec.values["company"] = person.company
    if customer_id:
        rec.values["customer_id"] = customer_id
    if rng.random() < 0.7:
        rec.attributes["loyalty_tier"] = _TIERS.pick(rng)
    rec.attributes["store"] = rng.choice(STORES)
    rec.attributes["client_since"] = since.date().isoformat()
    return rec


def shop_record(person: Person, rng: random.Random, ids: IdMaker, as_of: dt.datetime,
                customer_id: str | None, guest: bool = False) -> DemoRecord:
    """Typed by the customer: lower case, dropped accents, plus-addresses, guest checkouts."""
    since = _days_before(as_of, rng, 1, 1100)
    rec = DemoRecord("shop", ids.shop(), {}, {}, since, customer_id=customer_id)
    _names(person, rng, 0.35 if guest else 0.2, rec.values)
    if guest and person.alt_email and rng.random() < 0.6:
        rec.email = rec.values["email"] = person.alt_email
    else:
        _email(person, rng, 0.25, 0.005, rec)
    _phone(person, rng, 0.7, rec)
    _birth_date(person, rng, 0.1 if guest else 0.3, rec)
    if rng.random() < 0.9:
        stale = person.old_address is not None and rng.random() < 0.15
        _address(person.old_address if stale else person.address, rng, 0.15, rec.values,
                 region=False)
    if person.company and rng.random() < 0.1:
        rec.values["company"] = person.company
    if customer_id:
        rec.values["customer_id"] = customer_id
    rec.attributes["account_type"] = "invité" if guest else "client"
    rec.attributes["account_created"] = since.date().isoformat()
    return rec


def newsletter_record(person: Person, rng: random.Random, ids: IdMaker,
                      as_of: dt.datetime) -> DemoRecord:
    """Thin: an email, sometimes a first name or a postcode from the signup form."""
    since = _days_before(as_of, rng, 1, 900)
    rec = DemoRecord("newsletter", ids.newsletter(), {}, {}, since)
    _email(person, rng, 0.2, 0.0, rec)
    if rng.random() < 0.4:
        rec.values["first_name"] = noise.name_variant(person.first_name, rng, 0.3)
    if rng.random() < 0.15:
        rec.values["postcode"] = person.address.postcode
    rec.attributes["signup_form"] = _FORMS.pick(rng)
    rec.attributes["signup_date"] = since.date().isoformat()
    return rec


def person_records(person: Person, rng: random.Random, ids: IdMaker,
                   as_of: dt.datetime) -> list[DemoRecord]:
    """One to three records: crm ~70%, shop ~60%, newsletter ~40% of people, at least one."""
    crm, shop, news = rng.random() < 0.7, rng.random() < 0.6, rng.random() < 0.4
    if not (crm or shop or news):
        pick = _ONLY_SOURCE.pick(rng)
        crm, shop, news = pick == "crm", pick == "shop", pick == "newsletter"
    customer_id = ids.customer_id() if shop and rng.random() < 0.85 else None
    records = []
    if crm:
        shared = customer_id if customer_id and rng.random() < 0.55 else None
        records.append(crm_record(person, rng, ids, as_of, shared))
    if shop:
        records.append(shop_record(person, rng, ids, as_of, customer_id))
        # A second, guest account: the classic in-source duplicate.
        if crm + shop + news < 3 and rng.random() < 0.08:
            records.append(shop_record(person, rng, ids, as_of, None, guest=True))
    if news:
        records.append(newsletter_record(person, rng, ids, as_of))
    return records
