"""Shared shell of the export_* commands: the common filters, and streaming to a file."""

import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandParser

from cdp.services.exporting import FORMATS, StreamedExport


class ExportCommand(BaseCommand):
    noun = "rows"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", help="first day (or instant) included")
        parser.add_argument("--until", help="last day included (an instant: excluded)")
        parser.add_argument("--subject", help="profile UUID")
        parser.add_argument("--format", choices=FORMATS, default="csv")
        parser.add_argument("--out", default="-", help="file to write ('-': stdout)")

    @staticmethod
    def actor() -> str:
        return f"command:{os.environ.get('USER', 'unknown')}"

    def write(self, export: StreamedExport, out: str) -> None:
        """Stream the export's chunks to the file (or stdout), then report the count."""
        if out == "-":
            for chunk in export:
                self.stdout.write(chunk, ending="")
        else:
            with Path(out).open("w", encoding="utf-8", newline="") as handle:
                for chunk in export:
                    handle.write(chunk)
        self.stderr.write(f"{export.rows} {self.noun} exported")
