"""manage.py import_events FILE.csv --source NAME"""

from functools import partial
from typing import Any

from django.conf import settings

from cdp.management.importing import ImportCommand
from cdp.services.imports import ImportReport, events_import


class Command(ImportCommand):
    help = (
        "Import events from a CSV file with columns id, type, occurred_at (ISO 8601), value "
        "and one of email, phone, customer_id, external_id; other columns become properties. "
        "Idempotent by (source, id)."
    )
    noun = "events"

    def handle(self, *args: Any, **options: Any) -> None:
        self.run_import(options, partial(events_import, region=settings.CDP_DEFAULT_PHONE_REGION))

    def summary(self, report: ImportReport) -> str:
        return (
            f"{report.accepted} of {report.rows} rows accepted "
            f"(created {report.created}, already present {report.duplicates}); "
            f"{report.rejected} rejected, {report.issue_count - report.rejected} warnings"
        )
