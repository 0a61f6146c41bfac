"""What the connectors' commands share: who is acting, one-line errors, numbers."""

import os
from typing import Any

from django.core.management.base import CommandError

from connectors.services import Invalid


def actor() -> str:
    return f"command:{os.environ.get('USER', 'unknown')}"


def refused(exc: Invalid) -> CommandError:
    return CommandError(f"{exc.field}: {exc.message}")


def number(option: str, text: str | None, kind: type = int) -> Any:
    """An optional number given as text (argparse would print its usage on error)."""
    if text is None:
        return None
    try:
        return kind(text)
    except ValueError as exc:
        raise CommandError(f"{option}: not a number: {text[:20]!r}") from exc
