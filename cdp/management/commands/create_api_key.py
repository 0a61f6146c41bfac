"""manage.py create_api_key NAME --scopes ingest,read [--rate 1000/min]

Scopes: ingest, read, marketer, steward, dpo, admin (see cdp.roles)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import IntegrityError

from cdp.models import ApiKey
from cdp.services.api_keys import InvalidScope, api_key_create


class Command(BaseCommand):
    help = "Create an API key and print it once (only its hash is stored)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument(
            "--scopes", default="ingest",
            help=f"comma-separated, among: {','.join(ApiKey.Scope.values)}",
        )
        parser.add_argument("--rate", default="", help="request rate for this key, e.g. 1000/min")

    def handle(self, *args: Any, **options: Any) -> None:
        scopes = [s.strip() for s in options["scopes"].split(",") if s.strip()]
        try:
            _, raw = api_key_create(
                name=options["name"], scopes=scopes, rate=options["rate"], actor="command"
            )
        except InvalidScope as exc:
            raise CommandError(str(exc)) from exc
        except IntegrityError as exc:
            raise CommandError(f"an API key named {options['name']!r} already exists") from exc
        self.stdout.write(raw)
