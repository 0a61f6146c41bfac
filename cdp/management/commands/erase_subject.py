"""manage.py erase_subject (--profile ID | --email E | --phone P) --reason TEXT"""

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from cdp.management.subjects import add_subject_arguments, subject_from_options
from cdp.services.erasure import subject_erase


class Command(BaseCommand):
    help = (
        "Erase a data subject (GDPR Art. 17): records, events, consents and profile are "
        "deleted, their data keys destroyed (crypto-shredding), identifiers kept only as "
        "blind indexes on the suppression list, destinations told to delete. Every profile "
        "holding the email or phone is erased. Registered and audited with the reason."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_subject_arguments(parser, why="why (kept in the register)")

    def handle(self, *args: Any, **options: Any) -> None:
        kind, profile_ids = subject_from_options(options)
        result = subject_erase(
            profile_ids=profile_ids, identified_by=kind, reason=options["reason"],
            actor=f"command:{os.environ.get('USER', 'unknown')}",
        )
        counts = ", ".join(f"{k}={v}" for k, v in sorted(result.counts.items()))
        self.stdout.write(
            f"erased {len(result.profiles)} profile(s) (request #{result.request.pk}): {counts}"
        )
