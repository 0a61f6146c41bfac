from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CdpConfig(AppConfig):
    name = "cdp"
    verbose_name = _("Customer data")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in, user_login_failed
        from django.db.models.signals import post_migrate

        from cdp.receivers import audit_login, audit_login_failed
        from cdp.roles import roles_sync_receiver

        user_logged_in.connect(audit_login, dispatch_uid="cdp.audit_login")
        user_login_failed.connect(audit_login_failed, dispatch_uid="cdp.audit_login_failed")
        # After every app's post_migrate (so after auth created its permissions).
        post_migrate.connect(roles_sync_receiver, dispatch_uid="cdp.roles_sync")
