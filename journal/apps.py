from django.apps import AppConfig


class JournalConfig(AppConfig):
    name = "journal"
    verbose_name = "Journal"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the crisis resources and key ring checks (`manage.py check`, run by
        # migrate and runserver).
        from journal import checks, safety  # noqa: F401

        # Production refuses to start with a key ring that cannot seal anything.
        checks.refuse_unusable_key_ring()
