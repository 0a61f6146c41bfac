"""manage.py create_demo_admin: the demo's admin login, with a random password kept in var/."""

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Create (once) the demo superuser and print its login. Refused with DEBUG off."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("demo admin only with DEBUG on; use createsuperuser in production")
        path = settings.VAR_DIR / "demo-admin.txt"
        user_model = get_user_model()
        username = options["username"]
        if user_model.objects.filter(username=username).exists() and path.exists():
            self.stdout.write(f"demo admin login: {path.read_text().strip()}  (from {path})")
            return
        password = secrets.token_urlsafe(12)
        user = user_model.objects.filter(username=username).first() or user_model(username=username)
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{username} / {password}\n")
        path.chmod(0o600)
        self.stdout.write(f"demo admin login: {username} / {password}  (kept in {path})")
