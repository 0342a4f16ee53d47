"""What every push provider is: send one generic message to one device, say how it went.

A message carries no health detail: a generic title and body and the prompt id, which the
app uses to open the prompt from its inbox after signing in.

`Provider.send` is a coroutine: a delivery task runs a batch's sends at once on the
process's push loop (integration/providers/loop.py), many streams over one connection per
provider. `send_now` runs one send from synchronous code.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Protocol

from django.conf import settings
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from integration.providers.loop import push_loop

if TYPE_CHECKING:
    from integration.models import Device

GENERIC_TITLE = "Afterglow"
GENERIC_BODY = "You have something new in your journal."


@dataclass(frozen=True)
class PushMessage:
    prompt_id: str
    title: str = GENERIC_TITLE
    body: str = GENERIC_BODY


class Outcome(enum.Enum):
    DELIVERED = "delivered"
    TRANSIENT = "transient"  # 429, 5xx, timeouts: retry with backoff
    UNREGISTERED = "unregistered"  # the token is dead: retire the device
    FAILED = "failed"  # a permanent error other than a dead token


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    status_code: int | None = None
    retry_after: float | None = None  # seconds, when the provider said
    # False: no request went out (the provider had asked this process to wait); the push
    # counts as neither an attempt nor a failure.
    was_sent: bool = True


class Provider(Protocol):
    name: str

    async def send(self, device: Device, message: PushMessage) -> SendResult: ...


def send_now(provider: Provider, device: Device, message: PushMessage) -> SendResult:
    """Send one push from synchronous code, on this process's push loop, and wait."""
    return push_loop().run(provider.send(device, message))


@cache
def provider_for(platform: str) -> Provider:
    """The provider configured for a platform in settings.PUSH_PROVIDERS."""
    path = settings.PUSH_PROVIDERS.get(platform, settings.PUSH_PROVIDERS["default"])
    provider: Provider = import_string(path)()
    return provider


def _reset(**kwargs: object) -> None:
    if kwargs.get("setting", "").__str__().startswith("PUSH_"):
        provider_for.cache_clear()


setting_changed.connect(_reset)
