"""manage.py enforce_retention [--dry-run]: what the nightly retention task does, now."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from cdp.services.retention import retention_enforce


class Command(BaseCommand):
    help = (
        "Delete events older than CDP_RETENTION_EVENTS_DAYS and erase profiles inactive for "
        "CDP_RETENTION_INACTIVE_DAYS (restricted ones are kept). Audited."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true",
                            help="count what would be deleted, change nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        result = retention_enforce(actor="command:enforce_retention", dry_run=options["dry_run"])
        verb = "would delete" if result.dry_run else "deleted"
        self.stdout.write(
            f"{verb} {result.events_deleted} events (before {result.events_cutoff or 'never'}) "
            f"and {result.profiles_erased} inactive profiles "
            f"(before {result.inactive_cutoff or 'never'}); "
            f"{result.restricted_kept} restricted kept"
        )
