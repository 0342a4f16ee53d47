"""Requests raced against each other: each in its own thread, all released together."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from django.db import connection

T = TypeVar("T")


def at_once(call: Callable[[], T], times: int = 2) -> list[T]:
    """Runs `call` in `times` threads released together by a barrier, each closing its own
    database connection after; the answers, in the order they came."""
    barrier = threading.Barrier(times)
    answers: list[T] = []

    def run() -> None:
        try:
            barrier.wait()
            answers.append(call())
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return answers
