"""The feed's rate limits: per URL and per network address, both failing open when their
store is away (backend.throttling)."""

from __future__ import annotations

import hashlib
from typing import Any

from rest_framework.request import Request

from backend.throttling import ScopedRateThrottleFailingOpen


class FeedTokenThrottle(ScopedRateThrottleFailingOpen):
    """Counts reads per feed URL, wherever they come from. The cache key holds a digest of
    the secret that is not the stored one, so the throttle store holds nothing that finds
    a feed, nor the secret."""

    scope_attr = "throttle_scope"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        token = str(view.kwargs.get("token", ""))
        digest = hashlib.sha256(b"calendar-feed-throttle:" + token.encode("utf-8", "replace"))
        return self.cache_format % {"scope": self.scope, "ident": digest.hexdigest()}


class FeedAddressThrottle(ScopedRateThrottleFailingOpen):
    """Counts reads of any feed per network address (DRF's `get_ident`, behind
    `NUM_PROXIES` proxies): guessing URLs from one place meets this limit."""

    scope_attr = "address_throttle_scope"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
