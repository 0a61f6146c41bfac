"""manage.py dsar_export (--profile ID | --email E | --phone P) --out FILE.zip"""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cdp.services.dsar import SubjectNotFound, dsar_access, subject_profiles


class Command(BaseCommand):
    help = "Write everything held about a data subject (GDPR Art. 15/20) to a ZIP; audited."

    def add_arguments(self, parser: CommandParser) -> None:
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--profile")
        who.add_argument("--email")
        who.add_argument("--phone")
        parser.add_argument("--out", required=True, type=Path)
        parser.add_argument("--reason", default="", help="e.g. the request's reference")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            kind, profile_ids = subject_profiles(
                profile_id=options["profile"], email=options["email"], phone=options["phone"]
            )
        except SubjectNotFound as exc:
            raise CommandError(str(exc)) from exc
        data = dsar_access(profile_ids=profile_ids, identified_by=kind,
                           actor="command:dsar_export", reason=options["reason"])
        options["out"].write_bytes(data)
        self.stdout.write(f"{len(profile_ids)} profile(s) exported to {options['out']}")
