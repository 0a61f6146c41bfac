"""manage.py verify_audit_chain: check every audit row's hash and link, in id order."""

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from cdp.services.audit_verify import audit_verify


class Command(BaseCommand):
    help = (
        "Verify the audit log's hash chain. Prints 'audit chain intact: N rows', or names "
        "the first broken row and exits with status 1."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--chunk-size", type=int, default=5000)

    def handle(self, *args: Any, **options: Any) -> None:
        result = audit_verify(chunk_size=options["chunk_size"])
        if result.intact:
            self.stdout.write(f"audit chain intact: {result.checked} rows")
            return
        self.stderr.write(f"audit chain broken at row {result.first_broken_id}: {result.reason}")
        sys.exit(1)
