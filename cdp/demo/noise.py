"""How a source garbles a true value: typos, formats, variants, and outright garbage.

Each function takes the caller's Random so a seed reproduces every mistake. The garbage
helpers return values cdp.normalize must reject, so demo imports exercise the warnings.
"""

import datetime as dt
import random

from unidecode import unidecode

from cdp.demo.data import DOMAIN_TYPOS, Weighted

# Neighbouring keys on a French AZERTY keyboard, for realistic slips of the finger.
_AZERTY = {
    "a": "zqs", "z": "aes", "e": "zrd", "r": "etf", "t": "ryg", "y": "tuh", "u": "yij",
    "i": "uok", "o": "ipl", "p": "olm", "q": "asw", "s": "qdz", "d": "sfe", "f": "dgr",
    "g": "fht", "h": "gjy", "j": "hku", "k": "jli", "l": "kmo", "m": "lp", "w": "qx",
    "x": "wc", "c": "xv", "v": "cb", "b": "vn", "n": "b",
}
_STREET_ABBREVIATIONS = {
    "rue ": "r. ", "avenue ": "av. ", "boulevard ": "bd ", "place ": "pl. ",
    "allée ": "all. ", "impasse ": "imp. ", "chemin ": "ch. ", "route ": "rte ",
}


def typo(word: str, rng: random.Random) -> str:
    """One slip: two letters swapped, a letter dropped, doubled or hit next to."""
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)  # the first letter is rarely wrong
    kind = rng.random()
    if kind < 0.3:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind < 0.55:
        return word[:i] + word[i + 1:]
    if kind < 0.7:
        return word[:i] + word[i] + word[i:]
    char = word[i]
    near = _AZERTY.get(unidecode(char).lower())
    if not near:
        return word[:i] + word[i + 1:]
    new = rng.choice(near)
    return word[:i] + (new.upper() if char.isupper() else new) + word[i + 1:]


def name_variant(name: str, rng: random.Random, rate: float) -> str:
    """Accents lost, case changed, hyphen dropped or a typo, each with a share of `rate`."""
    if rng.random() >= rate:
        return name
    kind = rng.random()
    if kind < 0.3:
        return unidecode(name)
    if kind < 0.5:
        return name.upper()
    if kind < 0.6:
        return name.lower()
    if kind < 0.7 and "-" in name:
        return name.replace("-", " ")
    return typo(name, rng)


def email_variant(email: str, alt: str | None, rng: random.Random, rate: float) -> str:
    """The same person's address as another system holds it (or another address of theirs)."""
    if rng.random() >= rate:
        return email
    local, domain = email.split("@")
    kind = rng.random()
    if kind < 0.3:
        return email.upper() if rng.random() < 0.3 else f"{local.title()}@{domain.title()}"
    if kind < 0.55 and alt:
        return alt
    if kind < 0.75:
        return f"{local}@{DOMAIN_TYPOS.get(domain, 'orange.fr')}"
    if kind < 0.85:
        return f"{local}+{rng.choice(('shop', 'promo', 'news'))}@{domain}"
    return f" {email} "  # stray spaces from a copy-paste


def garbage_email(email: str, rng: random.Random) -> str:
    local, domain = email.split("@")
    return rng.choice((
        f"{local}{domain}", f"{local}@@{domain}", f"{local} {domain}",
        f"{local}@{domain.split('.')[0]}", "pas d'email", f"{local}..{rng.randrange(9)}@{domain}",
    ))


_INTERNATIONAL = {5: "+33 ", 6: "0033 ", 9: "+33 (0)"}


def phone_format(national: str, rng: random.Random) -> str:
    """A French number ("612345678") written the way people and systems write it."""
    head, rest = national[0], national[1:]
    pairs = (rest[0:2], rest[2:4], rest[4:6], rest[6:8])
    form = rng.randrange(10)
    if form < 2:
        return f"0{head} {' '.join(pairs)}"  # 06 12 34 56 78
    if form < 4:
        return f"0{national}"  # 0612345678
    if form == 4:
        return f"+33{national}"
    if form in (7, 8):
        separator = "." if form == 7 else "-"
        return f"0{head}{separator}{separator.join(pairs)}"  # 06.12.34.56.78
    return f"{_INTERNATIONAL[form]}{head} {' '.join(pairs)}"  # +33 6 12 34 56 78


def garbage_phone(national: str, rng: random.Random) -> str:
    return rng.choice((
        f"0{national[:7]}", f"0{national}{rng.randrange(10)}", "0000000000", "non communiqué",
        "N/A", f"{rng.randrange(1000, 99999)}",
    ))


_DATE_FORMATS = ("%Y-%m-%d", "%Y-%m-%d", "%d/%m/%Y", "%d/%m/%Y", "%Y%m%d", "%d.%m.%Y", "%d-%m-%Y")


def date_format(day: dt.date, rng: random.Random) -> str:
    return day.strftime(rng.choice(_DATE_FORMATS))


def date_variant(day: dt.date, rng: random.Random, rate: float) -> dt.date:
    """Day and month swapped (US order typed in a French form) or a day off by one."""
    if rng.random() >= rate:
        return day
    if day.day <= 12 and day.day != day.month and rng.random() < 0.6:
        return day.replace(month=day.day, day=day.month)
    return day + dt.timedelta(days=rng.choice((-1, 1)))


def garbage_date(day: dt.date, rng: random.Random) -> str:
    """A date no calendar has, or none at all."""
    return rng.choice((
        f"{rng.choice((30, 31))}/02/{day.year}", f"31/{rng.choice(('04', '06', '09', '11'))}/"
        f"{day.year}", "00/00/0000", f"{day.year}-13-{day.day:02d}", "inconnue",
        f"{day.day:02d}/{day.month:02d}/{day.year + 200}",
    ))


def address_variant(line: str, rng: random.Random, rate: float) -> str:
    """Abbreviated street types, capitals, lost accents or a comma after the number."""
    if rng.random() >= rate:
        return line
    kind = rng.random()
    if kind < 0.45:
        for full, short in _STREET_ABBREVIATIONS.items():
            if full in line:
                return line.replace(full, short, 1)
        return line
    if kind < 0.65:
        return line.upper()
    if kind < 0.8:
        return unidecode(line)
    number, _, rest = line.partition(" ")
    return f"{number}, {rest}"


def city_variant(city: str, rng: random.Random, rate: float) -> str:
    if rng.random() >= rate:
        return city
    kind = rng.random()
    if kind < 0.4:
        return city.upper()
    if kind < 0.7:
        return unidecode(city)
    if city.startswith("Saint-"):
        return "St-" + city[6:]
    return city.lower()


_COUNTRIES = Weighted(("FR", "France", "FRANCE", "fr", None), (45, 30, 10, 5, 10))


def country(rng: random.Random) -> str | None:
    """How the country is written, when it is at all."""
    return _COUNTRIES.pick(rng)
