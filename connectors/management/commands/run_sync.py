"""manage.py run_sync (ID | --all) [--reconcile]: run syncs here and print their counters."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from connectors.management.commands._common import actor, number
from connectors.models import AudienceSync, SyncRun
from connectors.services import Invalid, sync_run_now

COUNTERS = ("added", "updated", "removed", "unchanged", "failed", "skipped_consent",
            "skipped_unreachable", "repaired", "opt_outs", "api_calls", "retries",
            "duration_ms")


def run_line(sync: AudienceSync, run: SyncRun) -> str:
    counts = " ".join(f"{name}={getattr(run, name)}" for name in COUNTERS)
    flag = " FLAGGED" if run.flagged else ""
    return (f"sync {sync.pk} ({sync.segment.slug} -> {sync.destination.name}): "
            f"{run.status}{flag} {counts}")


class Command(BaseCommand):
    help = ("Run one sync (or every enabled one) in this process and print each run's "
            "counters; --reconcile reads the container back first, as the nightly batch "
            "does. Exits 1 if a run failed or could not start.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("id", nargs="?", help="sync id")
        parser.add_argument("--all", action="store_true", help="every enabled sync")
        parser.add_argument("--reconcile", action="store_true",
                            help="read the container back, record opt-outs, repair, then run")

    def handle(self, *args: Any, **options: Any) -> None:
        if (options["id"] is None) == (not options["all"]):
            raise CommandError("give a sync id or --all (not both)")
        syncs = AudienceSync.objects.select_related("segment", "destination").order_by("pk")
        if options["all"]:
            chosen = list(syncs.filter(enabled=True, destination__enabled=True))
        else:
            sync_id = number("id", options["id"])
            chosen = list(syncs.filter(pk=sync_id))
            if not chosen:
                raise CommandError(f"no sync with id {sync_id}")
        problems = [problem for sync in chosen
                    if (problem := self._run(sync, options["reconcile"]))]
        if problems:
            raise CommandError(problems[0] if len(problems) == 1 else
                               f"{len(problems)} syncs did not succeed: {'; '.join(problems)}")

    def _run(self, sync: AudienceSync, reconcile: bool) -> str:
        """Run one sync; returns what went wrong ("" when it succeeded or is partial)."""
        try:
            run = sync_run_now(actor=actor(), sync=sync, reconcile=reconcile)
        except Invalid as exc:
            return f"sync {sync.pk}: {exc.message}"
        if run is None:
            return f"sync {sync.pk}: another run is in progress"
        self.stdout.write(run_line(sync, run))
        if run.status == SyncRun.Status.FAILED:
            return f"sync {sync.pk} failed: {run.error.splitlines()[0] if run.error else '?'}"
        return ""
