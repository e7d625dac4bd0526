from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "tickstream.accounts"
    label = "accounts"
    verbose_name = "Accounts"
