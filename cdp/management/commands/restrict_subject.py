"""manage.py restrict_subject (--profile ID | --email E | --phone P) --reason TEXT [--lift]"""

import os
import uuid
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import QuerySet

from cdp.models import Profile
from cdp.normalize import NormalizationError
from cdp.selectors import profiles_by_identifier
from cdp.services.restriction import profile_restrict, profile_unrestrict


class Command(BaseCommand):
    help = (
        "Restrict processing of a data subject (GDPR Art. 18): the data is kept, the person "
        "leaves every segment and destination. With --lift, remove the restriction. Every "
        "profile holding the email or phone is restricted. Audited with the reason."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--profile", help="profile UUID")
        who.add_argument("--email")
        who.add_argument("--phone")
        parser.add_argument("--reason", required=True, help="why (kept in the audit log)")
        parser.add_argument("--lift", action="store_true", help="remove the restriction")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["reason"].strip():
            raise CommandError("--reason must say why")
        profiles = list(self._profiles(options))
        if not profiles:
            raise CommandError("no profile matches that subject")
        change = profile_unrestrict if options["lift"] else profile_restrict
        actor = f"command:{os.environ.get('USER', 'unknown')}"
        for profile in profiles:
            changed = change(profile=profile, actor=actor, reason=options["reason"])
            state = "lifted" if options["lift"] else "restricted"
            note = state if changed else f"already {'unrestricted' if options['lift'] else state}"
            self.stdout.write(f"{profile.pk}: {note}")

    def _profiles(self, options: dict[str, Any]) -> QuerySet[Profile]:
        if options["profile"]:
            try:
                return Profile.objects.filter(pk=uuid.UUID(options["profile"]))
            except ValueError as exc:
                raise CommandError("--profile: not a profile id (UUID)") from exc
        kind = "email" if options["email"] else "phone"
        try:
            return profiles_by_identifier(
                kind, options[kind], region=settings.CDP_DEFAULT_PHONE_REGION
            )
        except NormalizationError as exc:
            raise CommandError(f"--{kind}: {exc}") from exc
