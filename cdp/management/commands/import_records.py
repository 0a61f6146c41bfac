"""manage.py import_records FILE.csv --source NAME [--id-column COL] [--map csvcol=field ...]"""

from functools import partial
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser

from cdp.management.importing import ImportCommand
from cdp.services.imports import ImportReport, records_import


class Command(ImportCommand):
    help = (
        "Import customer records from a CSV file, upserting by (source, external id). "
        "Columns named like standard fields map themselves; others become attributes."
    )
    noun = "records"

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--id-column", help="column holding the external id")
        parser.add_argument(
            "--map", action="append", default=[], metavar="CSVCOL=FIELD",
            help="map a column to a standard field ('-' skips the column); repeatable",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        maps = {}
        for item in options["map"]:
            column, sep, target = item.partition("=")
            if not sep or not column or not target:
                raise CommandError(f"--map expects CSVCOL=FIELD, got {item!r}")
            maps[column] = target
        job = partial(
            records_import, id_column=options["id_column"], maps=maps,
            region=settings.CDP_DEFAULT_PHONE_REGION,
        )
        self.run_import(options, job)

    def summary(self, report: ImportReport) -> str:
        return (
            f"{report.accepted} of {report.rows} rows imported "
            f"(created {report.created}, updated {report.updated}, "
            f"unchanged {report.unchanged}); {report.rejected} rejected, "
            f"{report.issue_count - report.rejected} warnings"
        )
