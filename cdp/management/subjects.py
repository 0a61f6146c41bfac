"""How the data-subject commands (erase_subject, restrict_subject) name their subject."""

import uuid
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser

from cdp.services.dsar import SubjectNotFound, subject_profiles


def add_subject_arguments(parser: CommandParser, *, why: str) -> None:
    """Exactly one of --profile / --email / --phone, and a required --reason."""
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--profile", help="profile UUID")
    who.add_argument("--email")
    who.add_argument("--phone")
    parser.add_argument("--reason", required=True, help=why)


def subject_from_options(options: dict[str, Any]) -> tuple[str, list[uuid.UUID]]:
    """(how designated, profile ids); a one-line CommandError when nobody matches."""
    if not options["reason"].strip():
        raise CommandError("--reason must say why")
    if options["profile"]:
        try:
            uuid.UUID(options["profile"])
        except ValueError as exc:
            raise CommandError("--profile: not a profile id (UUID)") from exc
    try:
        return subject_profiles(
            profile_id=options["profile"], email=options["email"], phone=options["phone"],
            region=settings.CDP_DEFAULT_PHONE_REGION,
        )
    except SubjectNotFound as exc:
        kind = "email" if options["email"] else "phone" if options["phone"] else "profile"
        if str(exc).startswith("not a valid"):
            raise CommandError(f"--{kind}: {exc}") from exc
        raise CommandError("no profile matches that subject") from exc
