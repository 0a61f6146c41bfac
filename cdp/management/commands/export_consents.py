"""manage.py export_consents: consent proofs for a DPO, as CSV or JSON, streamed to a file."""

import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cdp.services.consent_export import FORMATS, ExportInvalid, consent_filter, consents_export


class Command(BaseCommand):
    help = (
        "Export consent entries captured in a date range (--since/--until: YYYY-MM-DD whole "
        "local days, or ISO 8601), optionally of one subject and purpose, in ledger order. "
        "Streamed with flat memory; the export is itself audited."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", help="first day (or instant) included")
        parser.add_argument("--until", help="last day included (an instant: excluded)")
        parser.add_argument("--subject", help="profile UUID")
        parser.add_argument("--purpose", help="purpose slug, e.g. email_marketing")
        parser.add_argument("--format", choices=FORMATS, default="csv")
        parser.add_argument("--out", default="-", help="file to write ('-': stdout)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            filters = consent_filter(
                since=options["since"], until=options["until"], subject=options["subject"],
                purpose=options["purpose"],
            )
        except ExportInvalid as exc:
            raise CommandError(str(exc)) from exc
        export = consents_export(
            filters=filters, fmt=options["format"], via="command",
            actor=f"command:{os.environ.get('USER', 'unknown')}",
        )
        out = options["out"]
        if out == "-":
            for chunk in export:
                self.stdout.write(chunk, ending="")
        else:
            with Path(out).open("w", encoding="utf-8", newline="") as handle:
                for chunk in export:
                    handle.write(chunk)
        self.stderr.write(f"{export.rows} consent entries exported")
