"""manage.py export_audit: the audit log for a DPO, as CSV or JSON, streamed to a file."""

import os
import uuid
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cdp.services.audit_export import AuditFilter, audit_export
from cdp.services.exporting import FORMATS, parse_bound


class Command(BaseCommand):
    help = (
        "Export audit rows in chain order, filtered by date range (--since/--until: "
        "YYYY-MM-DD whole local days, or ISO 8601), subject and action. The export is "
        "itself audited."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", help="first day (or instant) included")
        parser.add_argument("--until", help="last day included (an instant: excluded)")
        parser.add_argument("--subject", help="profile UUID")
        parser.add_argument("--action", default="", help="e.g. profile.view")
        parser.add_argument("--format", choices=FORMATS, default="csv")
        parser.add_argument("--out", default="-", help="file to write ('-': stdout)")
        parser.add_argument("--chunk-size", type=int, default=2000)

    def handle(self, *args: Any, **options: Any) -> None:
        filters = self._filters(options)
        export = audit_export(
            filters=filters, fmt=options["format"], chunk_size=options["chunk_size"],
            actor=f"command:{os.environ.get('USER', 'unknown')}", via="command",
        )
        out = options["out"]
        if out == "-":
            for chunk in export:
                self.stdout.write(chunk, ending="")
        else:
            with Path(out).open("w", encoding="utf-8", newline="") as handle:
                for chunk in export:
                    handle.write(chunk)
        self.stderr.write(f"{export.rows} audit rows exported")

    def _filters(self, options: dict[str, Any]) -> AuditFilter:
        try:
            since = parse_bound(options["since"]) if options["since"] else None
            until = parse_bound(options["until"], end=True) if options["until"] else None
            subject = uuid.UUID(options["subject"]) if options["subject"] else None
        except ValueError as exc:  # BadBound, or a malformed UUID
            raise CommandError(str(exc)) from exc
        return AuditFilter(since=since, until=until, subject=subject, action=options["action"])
