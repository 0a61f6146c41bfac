"""manage.py train_identity_model [--no-activate]"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from identity.training import NotEnoughRecords, identity_model_train


class Command(BaseCommand):
    help = "Train a new Splink identity model on every record and make it the active one."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-activate", action="store_true",
                            help="save the new version without using it")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            model = identity_model_train(actor="command:train_identity_model",
                                         activate=not options["no_activate"])
        except NotEnoughRecords as exc:
            raise CommandError(str(exc)) from exc
        report = ", ".join(f"{k}={v}" for k, v in model.report.items())
        self.stdout.write(f"identity model v{model.version} trained on {model.record_count} "
                          f"records ({report})")
