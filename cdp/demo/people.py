"""The true customers behind the demo records: one Person per entity, noise-free.

A Person is the ground truth the truth file points at; records.py derives each source's
imperfect view of it. Ids and phone numbers come from affine permutations of counters,
so they look random yet never collide and do not depend on how many customers are made.
"""

import datetime as dt
import random
from dataclasses import dataclass, replace

import phonenumbers
from unidecode import unidecode

from cdp.demo.data import (
    COMPOUND_FIRST_F,
    COMPOUND_FIRST_M,
    LINE2_FORMATS,
    RESIDENCES,
    Pools,
)

_EPOCH = dt.date(1936, 1, 1)


def _valid_prefixes(prefixes: list[str]) -> tuple[str, ...]:
    """Three-digit prefixes phonenumbers accepts (validity depends on them alone)."""
    return tuple(
        p for p in prefixes
        if phonenumbers.is_valid_number(phonenumbers.parse(f"0{p}123456", "FR"))
    )


_MOBILE_PREFIXES = _valid_prefixes([f"6{i:02d}" for i in range(100)]
                                   + [f"7{i:02d}" for i in range(30, 100)])
_LANDLINE_PREFIXES = {z: _valid_prefixes([f"{z}{i:02d}" for i in range(100)]) for z in "12345"}
# Landline zones by department: 01 Île-de-France, 02 north-west, 03 north-east,
# 04 south-east, 05 south-west.
_ZONES = (
    ("1", frozenset(("75", "77", "78", "91", "92", "93", "94", "95"))),
    ("4", frozenset(("13", "06", "83", "84", "69", "38", "42", "73", "74", "26", "20", "30",
                     "34"))),
    ("5", frozenset(("31", "33", "64", "66", "11", "65", "81", "82", "87", "17", "79",
                     "86"))),
    ("3", frozenset(("67", "68", "57", "54", "51", "10", "21", "25", "71", "89", "59",
                     "62"))),
)


# Primes other than 2, 3 and 5, hence coprime to every modulus used (powers of 10, 2, 36).
_MULTIPLIERS = (2_654_435_761, 2_246_822_519, 3_266_489_917, 668_265_263, 374_761_393)


def scramble(counter: int, modulus: int, key: int = 0) -> int:
    """A bijection of range(modulus): distinct counters give distinct, random-looking ids.

    Each kind of id uses its own key so that ids of one person do not share digits.
    """
    multiplier = _MULTIPLIERS[key % len(_MULTIPLIERS)]
    return (counter * multiplier + 1_013_904_223 * (key + 1)) % modulus


@dataclass(frozen=True)
class Address:
    line1: str
    line2: str | None
    postcode: str
    city: str
    region: str


@dataclass
class Person:
    entity_id: str
    index: int
    female: bool
    first_name: str
    last_name: str
    birth_date: dt.date
    email: str
    alt_email: str | None
    mobile: str | None  # national significant number, e.g. "612345678"
    landline: str | None
    address: Address
    # Where the person lived before moving; stale sources still hold it.
    old_address: Address | None
    company: str | None
    engagement: float


def _first_name(female: bool, rng: random.Random, pools: Pools) -> str:
    if rng.random() < 0.05:
        base, second = ("Marie", COMPOUND_FIRST_F) if female else ("Jean", COMPOUND_FIRST_M)
        return f"{base}-{rng.choice(second)}"
    return rng.choice(pools.first_f if female else pools.first_m)


def _last_name(rng: random.Random, pools: Pools) -> str:
    name = pools.last.pick(rng)
    if rng.random() < 0.02:
        name = f"{name}-{pools.last.pick(rng)}"
    return name


def _birth_date(rng: random.Random) -> dt.date:
    # Adults born 1936-2007, most between the late sixties and the early nineties.
    offset = rng.triangular(0, 72 * 365.25, 48 * 365.25)
    return _EPOCH + dt.timedelta(days=int(offset))


def _ascii(text: str) -> str:
    return "".join(c for c in unidecode(text).lower() if c.isalnum() or c == "-")


def _email_local(first: str, last: str, year: int, rng: random.Random) -> str:
    f, n = _ascii(first), _ascii(last)
    form = rng.randrange(9)
    if form < 2:
        return f"{f}.{n}"
    if form < 8:
        return (f"{f}{n}", f"{f[0]}.{n}", f"{f}_{n}", f"{n}.{f}", f"{f}.{n}{year % 100:02d}",
                f"{f}{rng.randrange(1, 999)}")[form - 2]
    return f"{f[0]}{n}{rng.randrange(10, 99)}"


def _unique_email(local: str, domain: str, rng: random.Random, used: set[str]) -> str:
    """Real mailboxes are personal: a clash with someone else gets digits appended."""
    email = f"{local}@{domain}"
    while email in used:
        email = f"{local}{rng.randrange(1, 9999)}@{domain}"
    used.add(email)
    return email


def _mobile(index: int, rng: random.Random) -> str:
    # Unique up to a million people: the six last digits are a permutation of the index.
    return f"{rng.choice(_MOBILE_PREFIXES)}{scramble(index, 1_000_000, key=4):06d}"


def _landline(postcode: str, rng: random.Random) -> str:
    """A geographic number in the area of the postcode (01 Paris region ... 05 south-west)."""
    dept = postcode[:2]
    zone = next((z for z, depts in _ZONES if dept in depts), "2")
    return f"{rng.choice(_LANDLINE_PREFIXES[zone])}{rng.randrange(10**6):06d}"


def make_address(rng: random.Random, pools: Pools, last_name: str) -> Address:
    """A street address in a real French city, with the odd second line."""
    city = pools.cities.pick(rng)
    # Most street numbers are small; a few long roads run into the hundreds.
    number = 1 + int(rng.lognormvariate(2.4, 1.0))
    suffix = rng.choice((" bis", " ter")) if rng.random() < 0.03 else ""
    line2 = None
    if rng.random() < 0.2:
        line2 = rng.choice(LINE2_FORMATS).format(
            n=rng.randrange(1, 60), b=rng.choice("ABCDEFG"), s=rng.randrange(1, 5),
            r=rng.choice(RESIDENCES), last=last_name,
        )
    return Address(
        line1=f"{min(number, 350)}{suffix} {pools.street(rng)}",
        line2=line2,
        postcode=rng.choice(city.postcodes),
        city=city.name,
        region=city.region,
    )


def make_person(
    index: int,
    rng: random.Random,
    pools: Pools,
    used_emails: set[str],
    housemate: Person | None = None,
) -> Person:
    """A new true customer; a housemate shares the address, landline and often the name."""
    female = rng.random() < 0.52
    first = _first_name(female, rng, pools)
    last = _last_name(rng, pools)
    address = make_address(rng, pools, last)
    landline = _landline(address.postcode, rng) if rng.random() < 0.25 else None
    if housemate is not None:
        address, landline = housemate.address, housemate.landline
        if rng.random() < 0.7:
            last = housemate.last_name
    birth = _birth_date(rng)
    email = _unique_email(_email_local(first, last, birth.year, rng), pools.domains.pick(rng), rng,
                          used_emails)
    company = rng.choice(pools.companies) if rng.random() < 0.12 else None
    alt_email = None
    if rng.random() < 0.25:
        domain = pools.domains.pick(rng)
        if company:
            domain = _ascii(company.split()[0]) + rng.choice((".fr", ".com"))
        alt_email = _unique_email(_email_local(first, last, birth.year, rng), domain, rng,
                                  used_emails)
    old_address = None
    if rng.random() < 0.12:
        # Half move within their city (a new street), half to another city.
        moved = make_address(rng, pools, last)
        if rng.random() < 0.5:
            moved = replace(moved, city=address.city, postcode=address.postcode,
                            region=address.region)
        old_address = moved
    return Person(
        entity_id=f"E{index:06d}",
        index=index,
        female=female,
        first_name=first,
        last_name=last,
        birth_date=birth,
        email=email,
        alt_email=alt_email,
        mobile=_mobile(index, rng) if rng.random() < 0.9 else None,
        landline=landline,
        address=address,
        old_address=old_address,
        company=company,
        engagement=rng.lognormvariate(0, 0.7),
    )
