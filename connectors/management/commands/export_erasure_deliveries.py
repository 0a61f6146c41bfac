"""manage.py export_erasure_deliveries: the proof of erasure at each destination (DPO)."""

from typing import Any

from django.core.management.base import CommandError, CommandParser

from cdp.management.exporting import ExportCommand
from connectors.erasure_export import delivery_filter, erasure_deliveries_export
from connectors.models import ErasureDelivery
from connectors.services import Invalid


class Command(ExportCommand):
    help = ("Export erasure deliveries (one per destination and person: status, attempts, "
            "the vendor's answer), by request, status and creation date (--since/--until: "
            "YYYY-MM-DD whole local days, or ISO 8601). Streamed; the export is audited.")
    noun = "erasure deliveries"

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--request", help="subject request id")
        parser.add_argument("--status", help=f"one of {', '.join(ErasureDelivery.Status.values)}")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            filters = delivery_filter(request=options["request"], status=options["status"],
                                      since=options["since"], until=options["until"],
                                      subject=options["subject"])
        except Invalid as exc:
            raise CommandError(f"--{exc.field}: {exc.message}") from exc
        export = erasure_deliveries_export(filters=filters, fmt=options["format"],
                                           actor=self.actor(), via="command")
        self.write(export, options["out"])
