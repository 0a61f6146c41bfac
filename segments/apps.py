from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from cdp.signals import (
    consent_changed,
    events_ingested,
    identities_changed,
    profile_restricted,
    profile_unrestricted,
)


class SegmentsConfig(AppConfig):
    name = "segments"
    verbose_name = _("Segments")

    def ready(self) -> None:
        # Imported here: the receivers import tasks and models, which need a ready registry.
        from segments.receivers import (
            consent_reevaluate_on_change,
            segments_leave_on_restriction,
            segments_reenter_on_unrestriction,
            segments_refresh_on_identity_change,
            traits_refresh_on_ingest,
        )

        events_ingested.connect(
            traits_refresh_on_ingest, dispatch_uid="segments.traits_refresh_on_ingest"
        )
        consent_changed.connect(
            consent_reevaluate_on_change, dispatch_uid="segments.consent_reevaluate_on_change"
        )
        profile_restricted.connect(
            segments_leave_on_restriction, dispatch_uid="segments.segments_leave_on_restriction"
        )
        identities_changed.connect(
            segments_refresh_on_identity_change,
            dispatch_uid="segments.segments_refresh_on_identity_change",
        )
        profile_unrestricted.connect(
            segments_reenter_on_unrestriction,
            dispatch_uid="segments.segments_reenter_on_unrestriction",
        )

        from segments.ml.receivers import (
            scores_delete_on_restriction,
            scores_withdraw_on_consent,
        )

        consent_changed.connect(
            scores_withdraw_on_consent, dispatch_uid="segments.ml.scores_withdraw_on_consent"
        )
        profile_restricted.connect(
            scores_delete_on_restriction,
            dispatch_uid="segments.ml.scores_delete_on_restriction",
        )

        from cdp.privacy.erasers import register_eraser
        from cdp.privacy.subject_data import register_subject_data
        from segments.subject_data import segment_subject_data, segment_subject_erase

        register_subject_data(segment_subject_data)
        register_eraser(segment_subject_erase)
