"""What every push provider is: send one generic message to one device, say how it went.

A message carries no health detail, ever: a generic title and body, and what the app needs
to route it: its kind, the prompt id and a deep link path, the inbox count as a badge, and
per kind an APNs category and thread and an Android channel (`ROUTES`). A silent kind
(`sync`) shows nothing and tells the app to fetch its prompts. docs/push-payloads.md shows
each platform's payload.

`Provider.send` is a coroutine: a delivery task runs a batch's sends at once on the
process's push loop (integration/providers/loop.py), many streams over one connection per
provider. `send_now` runs one send from synchronous code.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
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


class PushKind(enum.StrEnum):
    """What a push is about, so that the app can tell them apart (a safety or share
    notification would be a kind of its own)."""

    PROMPT = "prompt"  # a prompt is due: shown, opens the prompt
    SYNC = "sync"  # silent: the patient's prompts changed, the app fetches them


@dataclass(frozen=True)
class Route:
    """Where a kind of notification goes on the phone. The app registers the category's
    actions (for a prompt: "Answer now", "Later") and the channel."""

    category: str  # APNs `category`
    thread: str  # APNs `thread-id`: notifications of one thread are grouped
    channel: str  # Android notification channel id


ROUTES = {PushKind.PROMPT: Route(category="PROMPT", thread="prompts", channel="prompts")}


@dataclass(frozen=True)
class PushMessage:
    prompt_id: str = ""
    kind: PushKind = PushKind.PROMPT
    # The patient's inbox count (what they can act on now), shown as the app's badge.
    badge: int | None = None
    title: str = GENERIC_TITLE
    body: str = GENERIC_BODY
    # When the prompt stops being answerable: the push is not kept for a phone past it.
    expires_at: datetime | None = None

    @classmethod
    def sync(cls) -> PushMessage:
        return cls(kind=PushKind.SYNC, title="", body="")

    @property
    def is_silent(self) -> bool:
        return self.kind is PushKind.SYNC

    @property
    def route(self) -> Route:
        return ROUTES[self.kind]

    @property
    def link(self) -> str:
        """The deep link path the app opens (the inbox for a kind without a prompt)."""
        return f"/prompts/{self.prompt_id}" if self.prompt_id else "/prompts"

    @property
    def collapse_key(self) -> str:
        """A repeated push of one prompt replaces the first on the device; sync pushes
        replace each other."""
        return self.prompt_id or self.kind.value


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
