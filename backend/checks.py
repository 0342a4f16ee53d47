"""System checks of the project's own settings, run at start-up (`manage.py check`, migrate,
gunicorn's first request through Django's checks) so a stale setting fails at boot."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django.utils.module_loading import import_string

# The settings that name functions other apps call back, by dotted path.
HOOK_SETTINGS = (
    "JOURNAL_SESSION_HOOKS",
    "ACCOUNT_TIME_ZONE_HOOKS",
    "JOURNAL_SAFETY_HOOKS",
    "ACCOUNT_ERASURE_HOOKS",
    "JOURNAL_EXPORT_CONSENT_HOOKS",
    "ACCOUNT_SIGN_OUT_HOOKS",
    "ACCOUNT_DEVICE_PUSH_HOOKS",
    "JOURNAL_SYNC_SOURCES",
    "JOURNAL_PUSH_CAPABLE_HOOKS",
)


@checks.register()
def hooks_resolve(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Every dotted hook path names something callable."""
    errors: list[checks.CheckMessage] = []
    for name in HOOK_SETTINGS:
        for path in getattr(settings, name, []):
            try:
                hook = import_string(path)
            except ImportError:
                hook = None
            if not callable(hook):
                errors.append(
                    checks.Error(
                        f"{name} names {path!r}, which does not resolve to a callable.",
                        hint="Point it at the function's current module.",
                        id="afterglow.E001",
                    )
                )
    return errors
