"""What the HTTP providers share: the timeout, the lanes that bound and pause what is in
flight, cached credentials, Retry-After, loggers that never see a token, and Web Push's
HTTP/1.1 transport.

APNs and FCM speak HTTP/2 through `integration/providers/http2.py`. Web Push services are
many hosts over HTTP/1.1: their pushes go through httpcore, the connection pool under httpx,
on the process's push loop (`integration/providers/loop.py`). Not through
`httpx.AsyncClient`: its layers (the cookie jar, redirects, the auth flow, request and
response models) cost 40% of each push's CPU and a push needs none of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import logging
import math
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpcore
from django.conf import settings

from integration.providers.base import Outcome, SendResult
from integration.providers.loop import LoopLocal

logger = logging.getLogger("afterglow.push")

DEFAULT_TIMEOUT_SECONDS = 10.0
DEFAULT_TTL_SECONDS = 24 * 60 * 60
DEFAULT_TTL_MIN_SECONDS = 60
DEFAULT_MAX_IN_FLIGHT = 200
# However long a service asks us to stay away, a process looks again after this long: the
# prompts it turned away wait their own Retry-After in the database meanwhile.
LANE_PAUSE_CAP_SECONDS = 15 * 60
_USER_AGENT = b"afterglow-push"
# What a request can meet on the way (connecting, timeouts, a reset stream, a GOAWAY, a
# dropped connection): a push that met one may be tried again.
TRANSPORT_ERRORS = (
    httpcore.TimeoutException,
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.ProxyError,
    httpcore.UnsupportedProtocol,
)

# httpx logs every request's full URL at INFO (an APNs device token is part of the path, a
# Web Push endpoint is itself a secret), and hpack logs encoded headers (bearer tokens) at
# DEBUG. Unless the operator configured these loggers, they are kept at WARNING.
_QUIET_LOGGERS = ("httpx", "httpcore", "hpack", "h2")


def quiet_third_party_loggers() -> None:
    for name in _QUIET_LOGGERS:
        third_party = logging.getLogger(name)
        if third_party.level == logging.NOTSET:
            third_party.setLevel(logging.WARNING)


def push_timeout() -> float:
    return float(getattr(settings, "PUSH_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS))


def push_ttl(expires_at: datetime | None = None) -> int:
    """How long a push service keeps an undelivered notification (seconds): PUSH_TTL_SECONDS,
    or less when the prompt stops being answerable sooner (`expires_at`), so that a phone
    offline meanwhile is not shown a prompt it can no longer answer; at least
    PUSH_TTL_MIN_SECONDS, for a push sent moments before its prompt expires."""
    ttl = int(getattr(settings, "PUSH_TTL_SECONDS", DEFAULT_TTL_SECONDS))
    if expires_at is not None:
        floor = int(getattr(settings, "PUSH_TTL_MIN_SECONDS", DEFAULT_TTL_MIN_SECONDS))
        left = math.floor(expires_at.timestamp() - time.time())
        ttl = max(min(ttl, left), min(floor, ttl))
    return ttl


def max_in_flight(name: str, default: int = DEFAULT_MAX_IN_FLIGHT) -> int:
    """A provider's bound on pushes in flight per process (the setting `name`), at least 1."""
    return max(1, int(getattr(settings, name, default)))


@dataclass(frozen=True)
class PushResponse:
    status_code: int
    headers: dict[str, str]  # names in lower case
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)


class PushTransport:
    """An HTTP/1.1 connection pool made on first use in each event loop (so in each process:
    see loop.py), with the push timeout on every request."""

    def __init__(self, *, max_connections: int = 10) -> None:
        self._max_connections = max_connections
        timeout = push_timeout()
        self._extensions = {
            "timeout": {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}
        }
        self._pool: LoopLocal[httpcore.AsyncConnectionPool] = LoopLocal(self._make)

    def _make(self) -> httpcore.AsyncConnectionPool:
        quiet_third_party_loggers()
        return httpcore.AsyncConnectionPool(
            max_connections=self._max_connections,
            max_keepalive_connections=self._max_connections,
        )

    async def post(self, url: str, *, headers: dict[str, str], content: bytes) -> PushResponse:
        """POST and read the whole answer; raises one of TRANSPORT_ERRORS when it cannot.
        Redirects are not followed."""
        response = await self._pool.get().request(
            "POST",
            url,
            headers=[(b"user-agent", _USER_AGENT)]
            + [(name.encode(), value.encode()) for name, value in headers.items()],
            content=content,
            extensions=self._extensions,
        )
        return PushResponse(
            status_code=response.status,
            headers={
                name.decode("latin-1").lower(): value.decode("latin-1")
                for name, value in response.headers
            },
            content=response.content,
        )

    def close(self) -> None:
        """Close this process's connections (from any thread but the push loop's)."""
        loop, pool = self._pool.peek()
        self._pool.forget()
        if pool is not None and loop is not None and loop.is_running():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(pool.aclose(), loop).result(5)


class Lane:
    """The pushes of this process to one service: at most `limit` at once, and none while
    the service has asked us to wait (a provider-wide 429 or 503 with Retry-After)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._slots: LoopLocal[asyncio.Semaphore] = LoopLocal(lambda: asyncio.Semaphore(limit))
        self._paused_until = 0.0

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._slots.get():
            yield

    def wait_left(self) -> float:
        """Seconds until the service wants to hear from us again (0: go ahead)."""
        return max(0.0, self._paused_until - time.monotonic())

    def pause(self, seconds: float) -> None:
        seconds = min(max(seconds, 0.0), LANE_PAUSE_CAP_SECONDS)
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def turned_away(self) -> SendResult:
        """The answer for a push not sent because the lane is paused: no request was made;
        the prompt tries again when the service said it would listen."""
        return SendResult(Outcome.TRANSIENT, retry_after=self.wait_left(), was_sent=False)


class CachedToken:
    """A credential made on demand and reused until `margin` seconds before it expires.

    `make` returns the credential and its expiry (epoch seconds). It is signed locally (no
    I/O), so one thread makes it while others wait.
    """

    def __init__(self, make: Callable[[], tuple[str, float]], *, margin: float) -> None:
        self._make = make
        self._margin = margin
        self._lock = threading.Lock()
        self._value: str | None = None
        self._expires_at = 0.0

    def get(self) -> str:
        with self._lock:
            if self._value is None or time.time() >= self._expires_at - self._margin:
                self._value, self._expires_at = self._make()
            return self._value

    def invalidate(self, value: str) -> None:
        """Drop the credential a server rejected, unless another push already replaced it."""
        with self._lock:
            if self._value == value:
                self._value = None


class AsyncCachedToken:
    """A credential fetched over the network on demand, reused until `margin` seconds
    before it expires. One coroutine fetches it while the others in flight wait, so a burst
    of pushes costs one token request."""

    def __init__(self, make: Callable[[], Awaitable[tuple[str, float]]], *, margin: float) -> None:
        self._make = make
        self._margin = margin
        self._lock: LoopLocal[asyncio.Lock] = LoopLocal(asyncio.Lock)
        self._value: str | None = None
        self._expires_at = 0.0

    async def get(self) -> str:
        value = self._value
        if value is not None and time.time() < self._expires_at - self._margin:
            return value
        async with self._lock.get():
            if self._value is None or time.time() >= self._expires_at - self._margin:
                self._value, self._expires_at = await self._make()
            return self._value

    def invalidate(self, value: str) -> None:
        if self._value == value:
            self._value = None


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: delay-seconds or an HTTP-date (RFC 9110 section 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def transient_http_result(response: PushResponse) -> SendResult:
    return SendResult(
        Outcome.TRANSIENT,
        status_code=response.status_code,
        retry_after=parse_retry_after(response.headers.get("retry-after")),
    )


def json_object(response: PushResponse) -> dict[str, Any]:
    """The response body as a JSON object, or an empty one (error bodies are best effort)."""
    try:
        payload = response.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def log_outcome(
    provider: str,
    device_id: object,
    prompt_id: str,
    result: SendResult,
    *,
    reason: str = "",
) -> None:
    """One line per send that did not deliver; it names the device by id, never by token."""
    if result.outcome is Outcome.DELIVERED:
        return
    level = logging.WARNING if result.outcome is Outcome.FAILED else logging.INFO
    logger.log(
        level,
        "push %s",
        result.outcome.value if result.was_sent else "deferred",
        extra={
            "provider": provider,
            "device_id": str(device_id),
            "prompt_id": prompt_id,
            "outcome": result.outcome.value,
            "status_code": result.status_code,
            "reason": reason,
        },
    )
