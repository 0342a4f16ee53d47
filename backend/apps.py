from django.apps import AppConfig


class BackendConfig(AppConfig):
    """The project package as an app, for its management commands and system checks."""

    name = "backend"
    verbose_name = "Afterglow"

    def ready(self) -> None:
        from backend import checks  # noqa: F401  (registers the checks)
