"""manage.py import_consents FILE.csv --source NAME"""

import os
from functools import partial
from typing import Any

from django.conf import settings

from cdp.management.importing import ImportCommand
from cdp.services.imports import ImportReport, consents_import


class Command(ImportCommand):
    help = (
        "Append consent entries from a CSV file to the ledger. Columns: one identifier among "
        "email, phone, customer_id, external_id; purpose, status, captured_at (ISO 8601), "
        "lawful_basis, notice_version, channel, optionally expires_at, notice_text (kept as "
        "SHA-256), ip and user_agent (kept as keyed hashes); other columns are evidence. "
        "Idempotent: a line already recorded is counted, not stored again."
    )
    noun = "consents"

    def handle(self, *args: Any, **options: Any) -> None:
        job = partial(
            consents_import, region=settings.CDP_DEFAULT_PHONE_REGION,
            recorded_by=f"command:{os.environ.get('USER', 'unknown')}",
        )
        self.run_import(options, job)

    def summary(self, report: ImportReport) -> str:
        return (
            f"{report.accepted} of {report.rows} rows accepted "
            f"(recorded {report.created}, already recorded {report.duplicates}); "
            f"{report.rejected} rejected, {report.issue_count - report.rejected} warnings"
        )
