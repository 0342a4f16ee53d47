"""A provider for development: it prints the push instead of sending it."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from integration.providers.base import Outcome, PushMessage, SendResult

if TYPE_CHECKING:
    from integration.models import Device

logger = logging.getLogger("afterglow.push")


class ConsoleProvider:
    name = "console"

    async def send(self, device: Device, message: PushMessage) -> SendResult:
        logger.info(
            "push to console",
            extra={
                "provider": self.name,
                "platform": device.platform,
                "device_id": str(device.id),
                "prompt_id": message.prompt_id,
                "outcome": Outcome.DELIVERED.value,
            },
        )
        if message.is_silent:
            print(f"push -> {device.platform} device {device.id}: {message.kind}", flush=True)
        else:
            print(
                f'push -> {device.platform} device {device.id}: "{message.title}" '
                f"prompt {message.prompt_id} ({message.kind}, badge {message.badge})",
                flush=True,
            )
        return SendResult(Outcome.DELIVERED)
