"""A provider that does nothing and reports delivery: for benchmarks of the dispatch path."""

from __future__ import annotations

from typing import TYPE_CHECKING

from integration.providers.base import Outcome, PushMessage, SendResult

if TYPE_CHECKING:
    from integration.models import Device

_DELIVERED = SendResult(Outcome.DELIVERED)


class NoopProvider:
    name = "noop"

    async def send(self, device: Device, message: PushMessage) -> SendResult:
        return _DELIVERED
