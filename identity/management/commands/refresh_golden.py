"""manage.py refresh_golden [--all]"""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from cdp.models import Profile
from identity.golden import golden_refresh


class Command(BaseCommand):
    help = ("Compute golden records: of profiles without one (records loaded around the "
            "arrival task, e.g. restored from a dump), or of every profile with --all "
            "(after changing source priorities).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--all", action="store_true",
                            help="every profile, not only those without a golden record")

    def handle(self, *args: Any, **options: Any) -> None:
        profiles = Profile.objects.all()
        if not options["all"]:
            profiles = profiles.filter(golden__isnull=True)
        written = golden_refresh(profile_ids=set(profiles.values_list("pk", flat=True)))
        self.stdout.write(f"{written} golden records written")
