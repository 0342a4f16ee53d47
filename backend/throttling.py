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
from typing import Any

from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.throttling import ScopedRateThrottle

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
