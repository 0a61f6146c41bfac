"""manage.py generate_demo --customers N [--seed S] [--truth FILE] [--out DIR]"""

import datetime as dt
import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from tqdm import tqdm

from cdp.demo.generator import generate
from cdp.demo.loading import demo_load
from cdp.demo.output import demo_write_csv


class Command(BaseCommand):
    help = (
        "Generate realistic French demo customers spread over the crm, shop and newsletter "
        "sources, with duplicates, noise, events and consents. Writes to the database "
        "through the ingestion services, or with --out to CSV files for import_records / "
        "import_events / import_consents (import the records files first). Same seed, same "
        "data: running twice adds nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--customers", type=int, required=True,
                            help="number of true customers (entities)")
        parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
        parser.add_argument("--truth", type=Path, metavar="FILE",
                            help="write source,external_id,entity_id of every record here")
        parser.add_argument("--out", type=Path, metavar="DIR",
                            help="write CSV files to DIR instead of the database")
        parser.add_argument(
            "--as-of", type=dt.date.fromisoformat, metavar="YYYY-MM-DD",
            help="events and consents fall in the two years before this day (default today)",
        )
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        count: int = options["customers"]
        if count < 1:
            raise CommandError("--customers must be at least 1")
        today = timezone.now().date()
        day = options["as_of"] or today
        if day > today:
            raise CommandError("--as-of cannot be in the future (events would be refused)")
        # Midnight UTC: a rerun the same day generates exactly the same data.
        as_of = dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC)
        stream = tqdm(
            generate(customers=count, seed=options["seed"], as_of=as_of),
            total=count, unit="customer", disable=options["no_progress"] or None,
            file=self.stderr._out,
        )
        try:
            if options["out"]:
                stats = demo_write_csv(customers=stream, out_dir=options["out"],
                                       truth=options["truth"])
                summary = f"{stats.summary()}; written to {options['out']}"
            else:
                actor = f"command:{os.environ.get('USER', 'unknown')}"
                summary = demo_load(customers=stream, actor=actor,
                                    truth=options["truth"]).summary()
        finally:
            stream.close()
        self.stdout.write(summary)
