"""Shared shell of the import_* commands: options, progress bar, problem report, exit code."""

import csv
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils.text import slugify
from tqdm import tqdm

from cdp.audit import audit_record
from cdp.models import Source
from cdp.services.imports import ImportConfigError, ImportReport

SHOWN_ISSUES = 50


class ImportCommand(BaseCommand):
    noun = "rows"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--source", required=True, help="source name (created if new)")
        parser.add_argument(
            "--workers", type=int, default=None,
            help="parsing processes (default: number of CPUs, at most 4)",
        )
        parser.add_argument("--report", type=Path, help="write every problem to this CSV")
        parser.add_argument("--no-progress", action="store_true")

    def run_import(self, options: dict[str, Any], job: Callable[..., ImportReport]) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        source = self._source(options["source"])
        workers = options["workers"] or min(os.cpu_count() or 1, 4)
        bar = tqdm(
            total=path.stat().st_size, unit="B", unit_scale=True, desc=path.name,
            disable=options["no_progress"] or None, file=self.stderr._out,
        )
        try:
            report = job(path=path, source=source, workers=workers, on_read=bar.update)
        except ImportConfigError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            bar.close()
        audit_record(
            actor=f"command:{os.environ.get('USER', 'unknown')}",
            action=f"import.{self.noun}",
            object_type="source",
            object_id=str(source.pk),
            details={"file": path.name, "rows": report.rows, "accepted": report.accepted},
        )
        self._print(report, options.get("report"))
        if report.accepted == 0:
            raise CommandError(
                f"nothing imported: {report.rejected} of {report.rows} rows rejected"
            )

    def _source(self, name: str) -> Source:
        slug = slugify(name)
        if not slug or slug != name:
            raise CommandError(f"invalid source name {name!r} (use letters, digits, - and _)")
        with transaction.atomic():
            source, created = Source.objects.get_or_create(name=slug)
        if created:
            self.stderr.write(f"created source {slug}")
        return source

    def _print(self, report: ImportReport, report_path: Path | None) -> None:
        for issue in report.issues[:SHOWN_ISSUES]:
            where = f"{issue.field}: " if issue.field else ""
            outcome = "row rejected" if issue.rejected else "stored as missing"
            self.stderr.write(f"line {issue.line}: {where}{issue.message} ({outcome})")
        if report.issue_count > SHOWN_ISSUES:
            hint = f"; all in {report_path}" if report_path else "; use --report FILE for all"
            self.stderr.write(f"... {report.issue_count - SHOWN_ISSUES} more problems{hint}")
        if report_path:
            with report_path.open("w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["line", "field", "message", "outcome"])
                for issue in report.issues:
                    writer.writerow([issue.line, issue.field or "", issue.message,
                                     "rejected" if issue.rejected else "stored_as_missing"])
        self.stdout.write(self.summary(report))

    def summary(self, report: ImportReport) -> str:
        raise NotImplementedError
