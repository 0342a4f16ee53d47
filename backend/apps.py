from django.apps import AppConfig


class BackendConfig(AppConfig):
    """The project package as an app, for its management commands."""

    name = "backend"
    verbose_name = "Afterglow"
