"""What the HTTP providers share: one client per process, the timeout, cached credentials,
Retry-After, and loggers that never see a token."""

from __future__ import annotations

import email.utils
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from django.conf import settings

from integration.providers.base import Outcome, SendResult

logger = logging.getLogger("afterglow.push")

DEFAULT_TIMEOUT_SECONDS = 10.0
DEFAULT_TTL_SECONDS = 24 * 60 * 60

# httpx logs every request's full URL at INFO (an APNs device token is part of the path, a
# Web Push endpoint is itself a secret), and hpack logs encoded headers (bearer tokens) at
# DEBUG. Unless the operator configured these loggers, they are kept at WARNING.
_QUIET_LOGGERS = ("httpx", "httpcore", "hpack", "h2")


def _quiet_third_party_loggers() -> None:
    for name in _QUIET_LOGGERS:
        third_party = logging.getLogger(name)
        if third_party.level == logging.NOTSET:
            third_party.setLevel(logging.WARNING)


def push_timeout() -> float:
    return float(getattr(settings, "PUSH_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS))


def push_ttl() -> int:
    """How long a push service keeps an undelivered notification (seconds)."""
    return int(getattr(settings, "PUSH_TTL_SECONDS", DEFAULT_TTL_SECONDS))


def make_client(*, http2_only: bool = False) -> httpx.Client:
    _quiet_third_party_loggers()
    return httpx.Client(
        timeout=httpx.Timeout(push_timeout()),
        # APNs speaks HTTP/2 only: over TLS ALPN chooses it, over plain HTTP (the local fake)
        # this means prior knowledge.
        http1=not http2_only,
        http2=http2_only,
        follow_redirects=False,
        headers={"user-agent": "afterglow-push"},
    )


class ProcessClient:
    """An HTTP client made on first use in each process.

    Celery's prefork pool forks after the parent may have made one; a connection pool shared
    by two processes interleaves their bytes, so a child makes its own. httpx clients are
    safe to share between threads.
    """

    def __init__(self, factory: Callable[[], httpx.Client]) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._client: httpx.Client | None = None
        self._pid = 0

    def get(self) -> httpx.Client:
        with self._lock:
            if self._client is None or self._pid != os.getpid():
                self._client = self._factory()
                self._pid = os.getpid()
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None and self._pid == os.getpid():
                self._client.close()
            self._client = None


class CachedToken:
    """A credential made on demand and reused until `margin` seconds before it expires.

    `make` returns the credential and its expiry (epoch seconds). One thread makes it while
    others wait, so a burst of sends costs one token request.
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
        """Drop the credential a server rejected, unless another thread already replaced it."""
        with self._lock:
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


def transient_http_result(response: httpx.Response) -> SendResult:
    return SendResult(
        Outcome.TRANSIENT,
        status_code=response.status_code,
        retry_after=parse_retry_after(response.headers.get("retry-after")),
    )


def json_object(response: httpx.Response) -> dict[str, Any]:
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
        result.outcome.value,
        extra={
            "provider": provider,
            "device_id": str(device_id),
            "prompt_id": prompt_id,
            "outcome": result.outcome.value,
            "status_code": result.status_code,
            "reason": reason,
        },
    )
