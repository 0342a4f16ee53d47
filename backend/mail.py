"""The development e-mail backend: each message printed whole in the terminal."""

from __future__ import annotations

import sys
from typing import Any

from django.core.mail.backends.console import EmailBackend


class ConsoleEmailBackend(EmailBackend):
    """Django's console backend, writing to the process's own standard output.

    A Celery worker (which sends every e-mail) replaces `sys.stdout` with a logger, which
    would wrap each line of a message in a JSON log record; a newcomer running `make run`
    should read the code in the terminal as the message sets it out.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream", sys.__stdout__)
        super().__init__(*args, **kwargs)
