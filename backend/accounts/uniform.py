"""Answers that take the same time whichever way they went.

Requests that name an e-mail address without a password (registration, a password
reset, a new code) must not tell anyone whether the address has an account here: an
account here says its owner is in ketamine therapy. The answers are the same, and the
work differs (an e-mail is queued for one, nothing for the other), so the answer waits
until ACCOUNT_UNIFORM_RESPONSE_SECONDS have passed since the request began, whatever
path it took. The floor is set above what the slower path costs (an Argon2 hash, a few
queries, a broker message); tests/accounts measure both paths many times.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, TypeVar

from django.conf import settings

Handler = TypeVar("Handler", bound=Callable[..., Any])


@contextmanager
def uniform_duration(seconds: float | None = None) -> Iterator[None]:
    """Let the block take at least `seconds` (default: the setting), also when it raises."""
    floor = settings.ACCOUNT_UNIFORM_RESPONSE_SECONDS if seconds is None else seconds
    started = time.monotonic()
    try:
        yield
    finally:
        remaining = floor - (time.monotonic() - started)
        if remaining > 0:
            time.sleep(remaining)


def answers_in_uniform_time(handler: Handler) -> Handler:
    """A view method whose answer comes no sooner than the floor, on every path."""

    @wraps(handler)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        with uniform_duration():
            return handler(*args, **kwargs)

    return wrapped  # type: ignore[return-value]
