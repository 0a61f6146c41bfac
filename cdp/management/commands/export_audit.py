"""manage.py export_audit: the audit log for a DPO, as CSV or JSON, streamed to a file."""

import uuid
from typing import Any

from django.core.management.base import CommandError, CommandParser

from cdp.management.exporting import ExportCommand
from cdp.services.audit_export import AuditFilter, audit_export
from cdp.services.exporting import parse_bound


class Command(ExportCommand):
    help = (
        "Export audit rows in chain order, filtered by date range (--since/--until: "
        "YYYY-MM-DD whole local days, or ISO 8601), subject and action. The export is "
        "itself audited."
    )
    noun = "audit rows"

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--action", default="", help="e.g. profile.view")
        parser.add_argument("--chunk-size", type=int, default=2000)

    def handle(self, *args: Any, **options: Any) -> None:
        export = audit_export(
            filters=self._filters(options), fmt=options["format"],
            chunk_size=options["chunk_size"], actor=self.actor(), via="command",
        )
        self.write(export, options["out"])

    def _filters(self, options: dict[str, Any]) -> AuditFilter:
        try:
            since = parse_bound(options["since"]) if options["since"] else None
            until = parse_bound(options["until"], end=True) if options["until"] else None
            subject = uuid.UUID(options["subject"]) if options["subject"] else None
        except ValueError as exc:  # BadBound, or a malformed UUID
            raise CommandError(str(exc)) from exc
        return AuditFilter(since=since, until=until, subject=subject, action=options["action"])
