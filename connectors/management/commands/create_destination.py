"""manage.py create_destination NAME --kind mailchimp|webhook --purpose P [...]

Secrets are read from environment variables named on the command line (argv is visible
to every user through ps), e.g. `--api-key-env MAILCHIMP_API_KEY`."""

import json
import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse

from connectors.management.commands._common import actor, number, refused
from connectors.registry import CREDENTIALS
from connectors.services import Invalid, destination_save

CREDENTIAL_NAMES = sorted({name for names in CREDENTIALS.values() for name in names})


def _option(name: str) -> str:
    return f"--{name.replace('_', '-')}-env"


class Command(BaseCommand):
    help = ("Create a destination. Credentials come from environment variables: "
            + ", ".join(f"{kind}: {' '.join(_option(n) + ' VAR' for n in names)}"
                        for kind, names in CREDENTIALS.items()) + ".")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="slug, e.g. mailchimp-main")
        parser.add_argument("--kind", help=f"one of {', '.join(CREDENTIALS)}")
        parser.add_argument("--purpose", help="consent purpose slug, e.g. email_marketing")
        parser.add_argument("--base-url", default="", help="API root (default: the vendor's)")
        parser.add_argument("--mapping", default="{}",
                            help='JSON vendor field -> profile field or trait, '
                                 'e.g. \'{"FNAME": "first_name"}\'')
        parser.add_argument("--rate", help="requests per second (default: the vendor's)")
        parser.add_argument("--concurrency", help="requests at once (default: the vendor's)")
        parser.add_argument("--batch-size", help="members per call (default: the vendor's)")
        for name in CREDENTIAL_NAMES:
            parser.add_argument(_option(name), metavar="VAR", dest=f"env_{name}",
                                help=f"environment variable holding the {name}")

    def handle(self, *args: Any, **options: Any) -> None:
        kind, purpose = options["kind"], options["purpose"]
        if not kind or not purpose:
            raise CommandError("--kind and --purpose are required")
        try:
            mapping = json.loads(options["mapping"])
        except json.JSONDecodeError as exc:
            raise CommandError(f"--mapping: not JSON ({exc.msg})") from exc
        limits = {"rate_per_s": number("--rate", options["rate"], float),
                  "max_concurrency": number("--concurrency", options["concurrency"]),
                  "batch_size": number("--batch-size", options["batch_size"])}
        try:
            destination = destination_save(
                actor=actor(), name=options["name"], kind=kind, purpose=purpose,
                credentials=self._credentials(kind, options), base_url=options["base_url"],
                field_mapping=mapping,
                **{k: v for k, v in limits.items() if v is not None},
            )
        except Invalid as exc:
            raise refused(exc) from exc
        self.stdout.write(f"destination {destination.name} created (id {destination.pk}, "
                          f"{kind}, purpose {purpose})")
        if kind == "mailchimp":
            path = reverse("destination-webhook-mailchimp", args=[destination.pk])
            self.stdout.write(f"opt-out webhook: https://<your host>{path}"
                              f"?token={destination.inbound_token}")

    @staticmethod
    def _credentials(kind: str, options: dict[str, Any]) -> dict[str, str] | None:
        if kind not in CREDENTIALS:
            return None  # the service names the valid kinds
        credentials = {}
        for name in CREDENTIALS[kind]:
            variable = options.get(f"env_{name}")
            if not variable:
                raise CommandError(f"{kind} needs {_option(name)} VAR (the {name} is read "
                                   f"from that environment variable, never from argv)")
            value = os.environ.get(variable, "")
            if not value.strip():
                raise CommandError(f"{_option(name)}: environment variable {variable} is "
                                   f"not set")
            credentials[name] = value
        return credentials
