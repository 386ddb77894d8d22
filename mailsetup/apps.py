from django.apps import AppConfig


class MailsetupConfig(AppConfig):
    name = "mailsetup"
    verbose_name = "Accounts and teams"
    default_auto_field = "django.db.models.BigAutoField"
