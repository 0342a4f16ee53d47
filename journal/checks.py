"""Start-up checks of the journal's key ring (settings.JOURNAL_KEKS).

A key ring that does not parse lets the service start and answer /readyz, then fails
every journal write with a 500. So it is checked before anything is served: as a system
check (`manage.py check`, which migrate and runserver run), and, with DEBUG false, when
the app registry loads in any process (gunicorn, the Celery worker, every command), which
then refuses to start. /readyz asks `key_ring_ready` too.
"""

from __future__ import annotations

import sys
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from journal.crypto import KeyConfigError, KeyRing

KEY_RING_HINT = (
    "set JOURNAL_KEKS to 'version:key' items, newest first, each key the base64 of 32 "
    'random bytes, e.g. 1:$(python -c "import base64,os;'
    'print(base64.b64encode(os.urandom(32)).decode())")'
)


def key_ring_problem() -> str | None:
    """Why JOURNAL_KEKS cannot be used, or None. KeyRing's messages name an item's
    position or version, never its text: the text is a secret."""
    try:
        KeyRing.from_settings()
    except KeyConfigError as error:
        return str(error)
    return None


def key_ring_ready() -> None:
    """For /readyz: raises when the key ring cannot be used."""
    problem = key_ring_problem()
    if problem is not None:
        raise KeyConfigError(problem)


@checks.register()
def check_key_ring(**kwargs: Any) -> list[checks.CheckMessage]:
    problem = key_ring_problem()
    if problem is None:
        return []
    return [
        checks.Error(
            f"JOURNAL_KEKS is not a usable key ring: {problem}.",
            hint=KEY_RING_HINT,
            id="journal.E003",
        )
    ]


def refuse_unusable_key_ring() -> None:
    """With DEBUG false, stop the process, in one line, when the key ring is unusable."""
    if settings.DEBUG:
        return  # the system check reports it (migrate and runserver stop on it)
    problem = key_ring_problem()
    if problem is None:
        return
    message = (
        f"Refusing to start (DEBUG is false): JOURNAL_KEKS is not a usable key ring "
        f"({problem}): {KEY_RING_HINT}"
    )
    print(message, file=sys.stderr)
    raise ImproperlyConfigured(message)
