"""A push provider for delivery tests that counts pushes across processes.

Each send appends one line, `<prompt id> <device id> <outcome> <pid> <parent pid>` (for a
sync push, `sync` in place of the prompt id), to
the file named by AFTERGLOW_TEST_PUSH_LOG (O_APPEND: lines from concurrent worker processes
never mix). The line is written after the simulated network time
(AFTERGLOW_TEST_PUSH_DELAY seconds), at the moment a real provider would have answered
200: a worker killed during the delay has pushed nothing.

A device's token says how the provider answers:
  "ok" (or anything unlisted)  delivered
  "unregistered"               410, the token is dead
  "failed"                     400, a permanent error
  "transient"                  503, always
  "transient:N"                503 for the first N sends to this device, then delivered
  "retry-after:S"              429 with Retry-After S seconds
  "raise"                      the provider raises
  "slow:S"                     delivered, S seconds later than the others
  "turned-away:S"              not sent: the provider asked to wait S seconds (no request)
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from integration.providers.base import Outcome, PushMessage, SendResult

if TYPE_CHECKING:
    from integration.models import Device

LOG_VARIABLE = "AFTERGLOW_TEST_PUSH_LOG"
DELAY_VARIABLE = "AFTERGLOW_TEST_PUSH_DELAY"
PROVIDER_PATH = "tests.integration.counting_provider.CountingProvider"

# The messages sent by this process, for tests that check what a push carries.
MESSAGES: list[PushMessage] = []


@dataclass(frozen=True)
class Push:
    prompt_id: str
    device_id: str
    outcome: str
    pid: int
    parent: int


def read_log(path: Path) -> list[Push]:
    if not path.exists():
        return []
    pushes = []
    for line in path.read_text().splitlines():
        prompt_id, device_id, outcome, pid, parent = line.split()
        pushes.append(Push(prompt_id, device_id, outcome, int(pid), int(parent)))
    return pushes


def delivered_counts(path: Path) -> Counter[str]:
    return Counter(push.prompt_id for push in read_log(path) if push.outcome == "delivered")


class CountingProvider:
    name = "counting"

    async def send(self, device: Device, message: PushMessage) -> SendResult:
        delay = float(os.environ.get(DELAY_VARIABLE, "0") or 0)
        if device.token.startswith("slow:"):
            delay += float(device.token.partition(":")[2])
        if delay:
            await asyncio.sleep(delay)
        MESSAGES.append(message)
        result = self._answer(device)
        # A sync push has no prompt: its kind stands in the prompt's place.
        line = (
            f"{message.collapse_key} {device.id} {result.outcome.value} {os.getpid()} "
            f"{os.getppid()}\n"
        )
        descriptor = os.open(os.environ[LOG_VARIABLE], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(descriptor, line.encode())
        finally:
            os.close(descriptor)
        return result

    def _answer(self, device: Device) -> SendResult:
        kind, _, argument = device.token.partition(":")
        if kind == "unregistered":
            return SendResult(Outcome.UNREGISTERED, 410)
        if kind == "failed":
            return SendResult(Outcome.FAILED, 400)
        if kind == "raise":
            raise ConnectionError("provider exploded")
        if kind == "turned-away":
            return SendResult(Outcome.TRANSIENT, retry_after=float(argument), was_sent=False)
        if kind == "retry-after":
            return SendResult(Outcome.TRANSIENT, 429, retry_after=float(argument))
        if kind == "transient":
            earlier = sum(
                1
                for push in read_log(Path(os.environ[LOG_VARIABLE]))
                if push.device_id == str(device.id)
            )
            if not argument or earlier < int(argument):
                return SendResult(Outcome.TRANSIENT, 503)
        return SendResult(Outcome.DELIVERED, 200)
