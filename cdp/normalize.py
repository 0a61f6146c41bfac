"""Pure normalization of identifiers and fields; no database, no settings.

Messages in NormalizationError never include the offending value: it is personal data
and these messages end up in API responses, command output and logs.
"""

import datetime as dt
import re
import unicodedata
from functools import lru_cache

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from email_validator.syntax import validate_email_local_part
from unidecode import unidecode


class NormalizationError(ValueError):
    """A value cannot be normalized; the message says why without quoting it."""


_SPACES = re.compile(r"\s+")
_NAME_JUNK = re.compile(r"[^a-z0-9' ]+")


def clean_text(raw: str) -> str:
    """Trim and collapse inner whitespace; keeps case and accents (the original form)."""
    return _SPACES.sub(" ", raw).strip()


def match_key(raw: str | None) -> str | None:
    """Form used for matching: lowercase ASCII, punctuation and hyphens as single spaces."""
    if not raw:
        return None
    text = _NAME_JUNK.sub(" ", (raw if raw.isascii() else unidecode(raw)).lower())
    text = _SPACES.sub(" ", text.replace("'", " ")).strip()
    return text or None


@lru_cache(maxsize=16384)
def _email_domain(domain: str) -> str:
    # IDNA handling is the expensive part of validation; domains repeat a lot in real data.
    try:
        return validate_email(f"x@{domain}", check_deliverability=False).ascii_domain
    except EmailNotValidError as exc:
        raise NormalizationError("not a valid email address (domain)") from exc


def normalize_email(raw: str) -> str:
    """Validated, lowercased email with an IDNA (ASCII) domain."""
    # NFC first: the same address typed on two systems may use composed or decomposed
    # accents, and must give the same blind index.
    text = unicodedata.normalize("NFC", raw.strip())
    if text.count("@") != 1 or '"' in text:
        # Quoted local parts and other rarities get the library's full treatment.
        try:
            result = validate_email(text, check_deliverability=False)
        except EmailNotValidError as exc:
            raise NormalizationError("not a valid email address") from exc
        return f"{result.local_part.lower()}@{result.ascii_domain.lower()}"
    local, domain = text.split("@")
    try:
        validate_email_local_part(local, allow_smtputf8=True, allow_empty_local=False)
    except EmailNotValidError as exc:
        raise NormalizationError("not a valid email address (local part)") from exc
    address = f"{local.lower()}@{_email_domain(domain).lower()}"
    if len(local.encode()) > 64 or len(address.encode()) > 254:
        raise NormalizationError("email address too long")
    return address


_PHONE_SEPARATORS = re.compile(r"[\s.\-()/]")
_FR_NATIONAL = re.compile(r"^(?:0|\+33|0033)([1-9]\d{8})$")


def normalize_phone(raw: str, region: str = "FR") -> str:
    """E.164 form of a phone number; numbers without a country code use `region`.

    French numbers in their usual shapes skip phonenumbers.parse (the costly step at
    ingestion rates) but are still checked by is_valid_number like every other number.
    """
    text = raw.strip()
    if any(ch.isalpha() for ch in text):
        # phonenumbers would read letters as keypad digits ("vanity" numbers).
        raise NormalizationError("not a phone number (letters)")
    compact = _PHONE_SEPARATORS.sub("", text)
    fast = _FR_NATIONAL.match(compact) if region == "FR" or compact[:1] == "+" else None
    if fast:
        number = phonenumbers.PhoneNumber(country_code=33, national_number=int(fast.group(1)))
    else:
        if text.startswith("00"):
            text = "+" + text[2:]
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException as exc:
            raise NormalizationError("not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise NormalizationError("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_DATE_FORMATS = (
    (re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ].*)?$"), "ymd"),
    (re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"), "ymd"),
    (re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$"), "dmy"),
    (re.compile(r"^(\d{4})(\d{2})(\d{2})$"), "ymd"),
)


def parse_date(raw: str) -> dt.date:
    """Parse ISO (YYYY-MM-DD), DD/MM/YYYY (also with . or -), YYYY/MM/DD and YYYYMMDD."""
    text = raw.strip()
    for pattern, order in _DATE_FORMATS:
        found = pattern.match(text)
        if found:
            a, b, c = (int(part) for part in found.groups())
            year, month, day = (a, b, c) if order == "ymd" else (c, b, a)
            try:
                return dt.date(year, month, day)
            except ValueError as exc:
                raise NormalizationError("impossible date") from exc
    raise NormalizationError("unrecognized date format (use YYYY-MM-DD or DD/MM/YYYY)")


def normalize_birth_date(raw: str, today: dt.date | None = None) -> str:
    """ISO birth date; refuses dates in the future or before 1900."""
    value = parse_date(raw)
    today = today or dt.date.today()  # noqa: DTZ011 - a calendar date, not an instant
    if value > today or value.year < 1900:
        raise NormalizationError("implausible birth date")
    return value.isoformat()


def normalize_postcode(raw: str) -> str:
    return _SPACES.sub("", raw).upper()


def normalize_country(raw: str) -> str:
    """ISO 3166 alpha-2 codes are uppercased; other spellings are kept as given."""
    text = clean_text(raw)
    return text.upper() if len(text) == 2 and text.isalpha() else text
