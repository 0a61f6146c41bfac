"""manage.py create_sync --segment SLUG --destination NAME --container JSON [...]"""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from connectors.management.commands._common import actor, refused
from connectors.models import AudienceSync, Destination
from connectors.services import Invalid, sync_save
from segments.models import Segment


class Command(BaseCommand):
    help = ("Create an audience sync: a segment kept in step with a container at a "
            'destination (mailchimp: {"list_id": ..., "tag": ...}; webhook: {"url": ...}).')

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--segment", help="segment slug")
        parser.add_argument("--destination", help="destination name")
        parser.add_argument("--container", help="JSON object")
        parser.add_argument("--mode", default=AudienceSync.Mode.UPSERT_AND_REMOVE,
                            help=f"one of {', '.join(AudienceSync.Mode.values)}")
        parser.add_argument("--schedule", default="",
                            help="cron (min hour day month wday, Europe/Paris); default: on "
                                 "changes and nightly only")
        parser.add_argument("--disabled", action="store_true", help="create it disabled")

    def handle(self, *args: Any, **options: Any) -> None:
        if not (options["segment"] and options["destination"] and options["container"]):
            raise CommandError("--segment, --destination and --container are required")
        segment = Segment.objects.filter(slug=options["segment"]).first()
        if segment is None:
            raise CommandError(f"--segment: no segment {options['segment']!r}")
        destination = Destination.objects.filter(name=options["destination"]).first()
        if destination is None:
            raise CommandError(f"--destination: no destination {options['destination']!r}")
        try:
            container = json.loads(options["container"])
        except json.JSONDecodeError as exc:
            raise CommandError(f"--container: not JSON ({exc.msg})") from exc
        try:
            sync = sync_save(actor=actor(), segment=segment, destination=destination,
                             container=container, mode=options["mode"],
                             schedule=options["schedule"], enabled=not options["disabled"])
        except Invalid as exc:
            raise refused(exc) from exc
        self.stdout.write(f"sync {sync.pk} created: {segment.slug} -> {destination.name} "
                          f"({sync.mode}{', ' + sync.schedule if sync.schedule else ''})")
