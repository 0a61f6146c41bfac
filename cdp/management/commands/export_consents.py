"""manage.py export_consents: consent proofs for a DPO, as CSV or JSON, streamed to a file."""

from typing import Any

from django.core.management.base import CommandError, CommandParser

from cdp.management.exporting import ExportCommand
from cdp.services.consent_export import ExportInvalid, consent_filter, consents_export


class Command(ExportCommand):
    help = (
        "Export consent entries captured in a date range (--since/--until: YYYY-MM-DD whole "
        "local days, or ISO 8601), optionally of one subject and purpose, in ledger order. "
        "Streamed with flat memory; the export is itself audited."
    )
    noun = "consent entries"

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--purpose", help="purpose slug, e.g. email_marketing")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            filters = consent_filter(
                since=options["since"], until=options["until"], subject=options["subject"],
                purpose=options["purpose"],
            )
        except ExportInvalid as exc:
            raise CommandError(str(exc)) from exc
        export = consents_export(
            filters=filters, fmt=options["format"], via="command", actor=self.actor()
        )
        self.write(export, options["out"])
