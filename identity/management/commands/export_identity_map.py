"""manage.py export_identity_map OUT.csv"""

import csv
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from identity.evaluation import identity_map


class Command(BaseCommand):
    help = "Write source,external_id,profile_id for every record (pseudonymous ids only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("out")

    def handle(self, *args: Any, **options: Any) -> None:
        count = 0
        with open(options["out"], "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["source", "external_id", "profile_id"])
            for row in identity_map():
                writer.writerow(row)
                count += 1
        self.stdout.write(f"{count} records written to {options['out']}")
