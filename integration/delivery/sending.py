"""Sending one batch's pushes at once.

Every push of the batch is a coroutine on the process's push loop
(`integration.providers.loop`): at most PUSH_MAX_IN_FLIGHT in flight together, each
provider within its own limits (its lanes), each push within a deadline. Answers come back
to the delivery task's thread, which does all the database work, as they arrive.

Why an event loop rather than a pool of threads: a push is a small request and a long wait
(about 100 ms to FCM or APNs from a data centre). Hundreds of them in flight are hundreds of
streams on one HTTP/2 connection and cost one thread; as threads they would cost hundreds,
and a blocking client would open a connection per thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from integration.models import Device
from integration.providers.base import Outcome, Provider, PushMessage, SendResult
from integration.providers.http import push_timeout
from integration.providers.loop import push_loop

logger = logging.getLogger("integration.delivery")

DEFAULT_MAX_IN_FLIGHT = 200
# A push gets this many request timeouts in all: a credential fetch, the request, and one
# retry with a fresh credential.
DEADLINE_TIMEOUTS = 3


def max_in_flight() -> int:
    return max(1, int(getattr(settings, "PUSH_MAX_IN_FLIGHT", DEFAULT_MAX_IN_FLIGHT)))


@dataclass(frozen=True)
class Push:
    prompt_id: uuid.UUID
    device: Device
    provider: Provider
    message: PushMessage


@dataclass(frozen=True)
class Answer:
    push: Push
    result: SendResult
    answered_at: datetime


class Sending:
    """A batch's pushes, under way on the push loop from the moment it is made."""

    def __init__(self, pushes: list[Push]) -> None:
        self.outstanding = len(pushes)
        # Answers pile up here and the task's thread is woken once for a pile, not once for
        # each (a wake-up per answer, a thread switch each, cost a tenth of a push's CPU).
        self._answers: deque[Answer] = deque()
        self._arrived = threading.Event()
        self._future = (
            push_loop().submit(self._send_all(pushes, max_in_flight(), push_timeout()))
            if pushes
            else None
        )

    async def _send_all(self, pushes: list[Push], in_flight: int, timeout: float) -> None:
        slots = asyncio.Semaphore(in_flight)

        async def one(push: Push) -> None:
            async with slots:
                result = await _send(push, deadline=timeout * DEADLINE_TIMEOUTS)
            self._answers.append(Answer(push, result, timezone.now()))
            if not self._arrived.is_set():
                self._arrived.set()

        await asyncio.gather(*(one(push) for push in pushes))

    def answers(self, *, timeout: float) -> list[Answer]:
        """Wait up to `timeout` seconds for an answer, then take every answer waiting."""
        if not self.outstanding:
            return []
        if not self._answers:
            self._arrived.wait(max(timeout, 0.0))
        # Cleared before taking: an answer that lands meanwhile sets it again.
        self._arrived.clear()
        taken: list[Answer] = []
        while self._answers:
            taken.append(self._answers.popleft())
        self.outstanding -= len(taken)
        if not taken and self._future is not None and self._future.done():
            # Every push answers, whatever happens to it; a loop that ended without
            # answering them all is a bug, not a reason to wait for ever.
            error = None if self._future.cancelled() else self._future.exception()
            raise RuntimeError(f"push loop ended with {self.outstanding} unanswered") from error
        return taken

    def cancel(self) -> None:
        """Stop what has not been sent yet (a push in flight may still reach the device)."""
        if self._future is not None:
            self._future.cancel()


async def _send(push: Push, *, deadline: float) -> SendResult:
    try:
        async with asyncio.timeout(deadline):
            return await push.provider.send(push.device, push.message)
    except TimeoutError:
        return SendResult(Outcome.TRANSIENT)
    except Exception:
        # A provider bug must not strand the rest of the batch; the prompt is retried.
        logger.exception("push provider %s raised; counted as transient", push.provider.name)
        return SendResult(Outcome.TRANSIENT)
