"""manage.py setup_demo --fakes var/demo-fakes.json: segments, syncs to the local vendor
fakes, one run each, and a login per role. Refused with DEBUG off."""

import json
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from cdp.demo.activation import demo_activate


class Command(BaseCommand):
    help = ("Finish the demo once customers are resolved: evaluate the demo segments, "
            "sync them to the local vendor fakes (python -m cdp.demo.fakes) and create a "
            "login per role (passwords kept in var/). Demo only: refused with DEBUG off.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--fakes", type=Path, required=True,
                            help="the info file written by python -m cdp.demo.fakes")
        parser.add_argument("--wait", type=float, default=30,
                            help="seconds to wait for the fakes to be ready (default 30)")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("setup_demo only with DEBUG on: it creates known logins")
        report = demo_activate(fakes=self._fakes(options["fakes"], options["wait"]),
                               var_dir=settings.VAR_DIR)
        for name, size in report.segments.items():
            self.stdout.write(f"segment {name}: {size} members")
        for sync in report.syncs:
            self.stdout.write(
                f"sync {sync.segment} -> {sync.destination}: {sync.status}, "
                f"{sync.added} added, {sync.failed} refused, {sync.in_container} at the vendor")
        self.stdout.write(f"demo logins (kept in {settings.VAR_DIR / 'demo-logins.txt'}):")
        for role, username, password in report.logins:
            self.stdout.write(f"  {role:<13} {username} / {password}")

    def _fakes(self, path: Path, wait: float) -> dict[str, Any]:
        deadline = time.monotonic() + wait
        while not path.exists():
            if time.monotonic() > deadline:
                raise CommandError(f"{path} did not appear: are the demo fakes running?")
            time.sleep(0.2)
        return json.loads(path.read_text())
