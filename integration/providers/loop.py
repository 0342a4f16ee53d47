"""The push loop: one asyncio event loop per process, in a thread of its own, where every
push runs.

Why a loop that outlives each task: an HTTP/2 connection belongs to the event loop it was
opened in. `asyncio.run()` in each delivery task would open a connection per task and close
it at the end; a loop kept for the life of the process keeps one connection per provider
warm across every batch the process delivers. The task's own thread stays synchronous
(Django's ORM, Celery's time limits) and hands coroutines over with `submit`.

Celery's prefork pool forks its children from a parent that may already hold a loop; a
thread does not survive a fork, so each process makes its own loop on first use (`push_loop`
compares the process id), and everything tied to a loop (clients, semaphores) is made per
loop (`LoopLocal`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class PushLoop:
    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="push-loop", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run `coroutine` on the loop; the future is its result (cancel it to cancel it)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run `coroutine` on the loop and wait for it. Never call it from the loop itself."""
        return self.submit(coroutine).result(timeout)


_lock = threading.Lock()
_current: PushLoop | None = None


def _forget_after_fork() -> None:
    global _lock, _current
    # The parent's loop thread is not in the child, and a fork taken while another thread
    # held the lock would leave it held for ever.
    _lock = threading.Lock()
    _current = None


os.register_at_fork(after_in_child=_forget_after_fork)


def push_loop() -> PushLoop:
    """This process's push loop, started on first use."""
    global _current
    with _lock:
        if _current is None or _current.pid != os.getpid():
            _current = PushLoop()
        return _current


class LoopLocal(Generic[T]):
    """A value made on first use in each event loop: an asyncio object (a semaphore, a
    lock, an HTTP connection pool) works only in the loop it was made in. Read it from
    inside a running loop."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._loop: asyncio.AbstractEventLoop | None = None
        self._value: T | None = None

    def get(self) -> T:
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._value is None:
            self._value = self._factory()
            self._loop = loop
        return self._value

    def peek(self) -> tuple[asyncio.AbstractEventLoop | None, T | None]:
        """The loop and value made last, if any (for closing them)."""
        return self._loop, self._value

    def forget(self) -> None:
        self._loop, self._value = None, None
