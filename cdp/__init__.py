"""Core domain of the CDP: sources, records, profiles, events, consent, audit, privacy."""

from cdp.celery import app as celery_app

__all__ = ["celery_app"]
