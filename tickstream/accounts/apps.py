from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_save


class AccountsConfig(AppConfig):
    name = "tickstream.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out

        from tickstream.accounts.services import on_logged_out, on_user_saved

        post_save.connect(on_user_saved, sender=settings.AUTH_USER_MODEL, dispatch_uid="name")
        user_logged_out.connect(on_logged_out, dispatch_uid="sign-out-sockets")
