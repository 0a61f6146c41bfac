from django.apps import AppConfig

from cdp.signals import events_ingested


class SegmentsConfig(AppConfig):
    name = "segments"

    def ready(self) -> None:
        # Imported here: the receivers import tasks and models, which need a ready registry.
        from segments.receivers import traits_refresh_on_ingest

        events_ingested.connect(
            traits_refresh_on_ingest, dispatch_uid="segments.traits_refresh_on_ingest"
        )
