"""GET /health/: database, Redis and Celery reachability (django-health-check)."""

import datetime as dt
from typing import Any

from django.conf import settings
from health_check.checks import Database
from health_check.views import HealthCheckView


class CdpHealthView(HealthCheckView):
    """Checks what this deployment uses; the embedded demo has no Redis and eager Celery."""

    def get_checks(self) -> Any:
        self.checks = [Database]
        if settings.REDIS_URL:
            from health_check.contrib.celery import Ping
            from health_check.contrib.redis import Redis
            from redis.asyncio import Redis as RedisClient

            self.checks = [
                Database,
                (Redis, {"client_factory": lambda: RedisClient.from_url(settings.REDIS_URL)}),
                (Ping, {"timeout": dt.timedelta(seconds=2)}),
            ]
        return super().get_checks()
