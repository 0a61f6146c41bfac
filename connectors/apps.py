from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConnectorsConfig(AppConfig):
    name = "connectors"
    verbose_name = _("Connectors")

    def ready(self) -> None:
        # Imported here: receivers import tasks and models, which need a ready registry.
        from cdp.privacy.erasers import register_eraser
        from cdp.privacy.rotation import register_rotator
        from cdp.privacy.subject_data import register_subject_data
        from cdp.signals import (
            consent_changed,
            identities_changed,
            profile_restricted,
            profiles_erased,
        )
        from connectors.erasure import connectors_subject_erase
        from connectors.receivers import (
            deliver_on_erasure,
            sync_on_identity_change,
            sync_on_membership_change,
            sync_on_restriction,
            sync_on_withdrawal,
        )
        from connectors.registry import credentials_rotate
        from connectors.subject_data import connectors_subject_data
        from segments.signals import membership_changed

        membership_changed.connect(sync_on_membership_change,
                                   dispatch_uid="connectors.sync_on_membership_change")
        consent_changed.connect(sync_on_withdrawal, dispatch_uid="connectors.sync_on_withdrawal")
        profile_restricted.connect(sync_on_restriction,
                                   dispatch_uid="connectors.sync_on_restriction")
        profiles_erased.connect(deliver_on_erasure, dispatch_uid="connectors.deliver_on_erasure")
        identities_changed.connect(sync_on_identity_change,
                                   dispatch_uid="connectors.sync_on_identity_change")
        register_eraser(connectors_subject_erase)
        register_rotator(credentials_rotate)
        register_subject_data(connectors_subject_data)
