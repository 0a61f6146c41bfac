"""manage.py restrict_subject (--profile ID | --email E | --phone P) --reason TEXT [--lift]"""

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from cdp.management.subjects import add_subject_arguments, subject_from_options
from cdp.models import Profile
from cdp.services.restriction import profile_restrict, profile_unrestrict


class Command(BaseCommand):
    help = (
        "Restrict processing of a data subject (GDPR Art. 18): the data is kept, the person "
        "leaves every segment and destination. With --lift, remove the restriction. Every "
        "profile holding the email or phone is restricted. Audited with the reason."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_subject_arguments(parser, why="why (kept in the audit log)")
        parser.add_argument("--lift", action="store_true", help="remove the restriction")

    def handle(self, *args: Any, **options: Any) -> None:
        _, profile_ids = subject_from_options(options)
        change = profile_unrestrict if options["lift"] else profile_restrict
        actor = f"command:{os.environ.get('USER', 'unknown')}"
        for profile in Profile.objects.filter(pk__in=profile_ids).order_by("created_at"):
            changed = change(profile=profile, actor=actor, reason=options["reason"])
            state = "lifted" if options["lift"] else "restricted"
            note = state if changed else f"already {'unrestricted' if options['lift'] else state}"
            self.stdout.write(f"{profile.pk}: {note}")
