"""manage.py evaluate_identity TRUTH.csv"""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from identity.evaluation import identity_map, quality, truth_read


class Command(BaseCommand):
    help = ("Compare the current profiles with a truth file (source,external_id,entity_id): "
            "pairwise precision, recall, F1 and over-/under-merged entities.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("truth")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["truth"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        try:
            truth = truth_read(path)
        except (ValueError, UnicodeDecodeError) as exc:
            raise CommandError(str(exc)) from exc
        predicted = {(s, e): p for s, e, p in identity_map()}
        result = quality(predicted, truth)
        if not result.records:
            raise CommandError("no record of the truth file is in the database")
        self.stdout.write(
            f"records {result.records}  precision {result.precision:.4f}  recall "
            f"{result.recall:.4f}  F1 {result.f1:.4f}  over-merged profiles "
            f"{result.over_merged}  under-merged entities {result.under_merged}")
