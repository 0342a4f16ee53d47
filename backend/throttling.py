"""Rate limits that keep the service up when their store (Redis) is away.

DRF keeps a throttle's history in the cache: Redis in production, or without Redis a
table in the database (settings.CACHES), never a process's own memory, which would give
each worker process a limit of its own. Were Redis to stop, every throttled request
(registering, signing in, TOTP codes, care-link codes) would fail with it, locking
everyone out of a journal they need at any hour. A throttle
whose store cannot be reached lets the request through and logs a warning instead:
sign-in keeps its lock-out after failed attempts, which django-axes keeps in PostgreSQL,
and code guessing stays bounded by the codes' own lifetimes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.throttling import ScopedRateThrottle

from backend.logging import address_digest

logger = logging.getLogger(__name__)


class ScopedRateThrottleFailingOpen(ScopedRateThrottle):
    """`ScopedRateThrottle` that allows the request when the cache cannot be reached."""

    def allow_request(self, request: Request, view: Any) -> bool:
        try:
            return super().allow_request(request, view)
        except (RedisError, OSError) as error:
            logger.warning(
                "throttle store unavailable; request allowed",
                extra={"scope": self.scope, "error": type(error).__name__},
            )
            return True


class AddressRateThrottle(ScopedRateThrottleFailingOpen):
    """Counts requests per e-mail address named in the body, wherever they come from.

    The view names the scope in `address_throttle_scope` (beside its per-network-address
    `throttle_scope`) and, when it is not `email`, the field in `address_throttle_field`.
    The cache key holds the address's keyed digest, never the address, and it counts the
    same for an address with or without an account.
    """

    scope_attr = "address_throttle_scope"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        data = request.data
        field = getattr(view, "address_throttle_field", "email")
        email = data.get(field) if isinstance(data, Mapping) else None
        if not isinstance(email, str) or not email.strip() or not _encodes(email):
            return None  # the serializer refuses it; nothing to count
        return self.cache_format % {"scope": self.scope, "ident": address_digest(email)}


def _encodes(text: str) -> bool:
    # A lone surrogate cannot be hashed (nor be an address); it must not become a 500.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
