"""Masked forms of personal data, for people whose role lets them work with profiles but
not read who the person is (marketers, data stewards): enough to recognise a pattern or
tell two records apart, not to contact or identify anyone. The one place that says how
each personal field is masked."""

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

HIDDEN = "***"


def mask_email(email: str | None, *, keep_domain: bool = True) -> str | None:
    """j***@gmail.com (the domain helps segmentation); with keep_domain=False j***@g***.com,
    for samples of people nobody asked to see."""
    if not email or "@" not in email:
        return None
    local, domain = email.split("@", 1)
    if keep_domain:
        return f"{local[:1]}{HIDDEN}@{domain}"
    name, _, tld = domain.rpartition(".")
    return f"{local[:1]}{HIDDEN}@{name[:1]}{HIDDEN}.{tld}"


def mask_phone(phone: str | None) -> str | None:
    """+*********78: the last two digits only, the rest of the digits starred."""
    if not phone:
        return None
    digits = sum(ch.isdigit() for ch in phone)
    seen, out = 0, []
    for ch in phone:
        if ch.isdigit():
            seen += 1
            out.append(ch if seen > digits - 2 else "*")
        else:
            out.append(ch)
    return "".join(out)


def mask_name(name: str | None) -> str | None:
    """Q***: the initial only."""
    name = (name or "").strip()
    return f"{name[:1]}{HIDDEN}" if name else None


def mask_date(value: str | date | None) -> str | None:
    """1985: the year only (an age band, not a birthday)."""
    if not value:
        return None
    text = value.isoformat() if isinstance(value, date) else str(value)
    return text[:4] if text[:4].isdigit() else HIDDEN


def mask_all(value: Any) -> str | None:
    """*** for fields of which no part is safe to show (address lines, customer ids)."""
    return HIDDEN if value not in (None, "") else None


# Keyed by cdp.fields.ENCRYPTED_FIELDS (a test keeps them in step).
MASKS: dict[str, Callable[[Any], str | None]] = {
    "first_name": mask_name,
    "last_name": mask_name,
    "email": mask_email,
    "phone": mask_phone,
    "birth_date": mask_date,
    "address_line1": mask_all,
    "address_line2": mask_all,
    "customer_id": mask_all,
}


def mask_personal(values: Mapping[str, Any]) -> dict[str, Any]:
    """A record's standard fields with every personal one masked; clear fields (city,
    postcode...) and anything else unchanged."""
    return {name: MASKS[name](value) if name in MASKS else value
            for name, value in values.items()}
