from django.apps import AppConfig


class JournalConfig(AppConfig):
    name = "journal"
    verbose_name = "Journal"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the crisis resources check (`manage.py check`, run by migrate).
        from journal import safety  # noqa: F401
