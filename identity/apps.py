from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IdentityConfig(AppConfig):
    name = "identity"
    verbose_name = _("Identity")

    def ready(self) -> None:
        from cdp.signals import records_changed
        from identity.receivers import match_on_arrival

        records_changed.connect(match_on_arrival, dispatch_uid="identity.match_on_arrival")

        from cdp.privacy.erasers import register_eraser
        from cdp.privacy.subject_data import register_subject_data
        from identity.subject_data import identity_subject_data, identity_subject_erase

        register_subject_data(identity_subject_data)
        register_eraser(identity_subject_erase)
