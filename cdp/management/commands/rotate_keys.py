"""manage.py rotate_keys: re-wrap every data key under the first CDP_ENCRYPTION_KEYS key."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from cdp.privacy.rotation import keys_rotate
from cdp.tasks import rotate_keys_task


class Command(BaseCommand):
    help = (
        "Re-wrap every record data key not under the primary (first) master key. Put the "
        "new key first in CDP_ENCRYPTION_KEYS, run this, then retire the old key."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--async", dest="run_async", action="store_true",
                            help="enqueue to the Celery worker instead of running here")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["run_async"]:
            result = rotate_keys_task.delay()
            self.stdout.write(f"enqueued rotation task {result.id}")
            return
        result = keys_rotate(actor="command:rotate_keys")
        self.stdout.write(f"{result.rotated} of {result.scanned} data keys re-wrapped")
