"""manage.py resolve_identities [--full]"""

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from identity.resolve import resolve_full


class Command(BaseCommand):
    help = ("Re-resolve every record into profiles: deterministic links, the active Splink "
            "model, people's decisions; profile ids stay stable. Runs nightly too.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--full", action="store_true",
                            help="every record (the only mode today; new records are also "
                                 "matched on arrival)")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        show = not options["no_progress"]

        def progress(message: str) -> None:
            if show:
                sys.stderr.write(f"  {message}\n")

        result = resolve_full(actor="command:resolve_identities", progress=progress)
        timings = ", ".join(f"{k}={v:.1f}" for k, v in result.timings.items())
        self.stdout.write(
            f"{result.records} records -> {result.clusters} profiles; {result.moved} records "
            f"moved, {result.merged} profiles merged, {result.created} created, "
            f"{result.reviews} pairs to review, {result.flagged} shared values flagged "
            f"(model {result.model_version or 'none'}; {timings})")
