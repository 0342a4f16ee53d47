"""Which Web Push endpoints the sender calls: one place, read by the sender
(`webpush.py`) and by device registration, so that a subscription the sender would never
call is refused when it is registered rather than failing at every push.

A subscription's endpoint is a URL the browser chose and the patient's device sent us, so
only the push services listed in WEBPUSH_ALLOWED_HOSTS are ever called: anything else
would let an account make the server send requests to any address.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import SplitResult, urlsplit

from django.conf import settings

# The push services of Chrome (and other Chromium browsers), Firefox, Safari and Edge.
DEFAULT_ALLOWED_HOSTS = (
    "fcm.googleapis.com",
    "updates.push.services.mozilla.com",
    "web.push.apple.com",
    "*.notify.windows.com",
)
_LOOPBACK_NAMES = frozenset({"localhost"})
# Push services give plain URLs: printable ASCII, no space, no escaped control character.
_PRINTABLE_ASCII = re.compile(r"[!-~]+")
_ESCAPED_CONTROL = re.compile(r"%(?:[01][0-9a-fA-F]|7[fF])")


def allowed_hosts() -> tuple[str, ...]:
    return tuple(getattr(settings, "WEBPUSH_ALLOWED_HOSTS", DEFAULT_ALLOWED_HOSTS))


def host_matches(host: str, patterns: Iterable[str]) -> bool:
    for pattern in patterns:
        pattern = pattern.lower()
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]):
                return True
        elif host == pattern:
            return True
    return False


def is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_plain(endpoint: str) -> bool:
    """Printable ASCII without a space or a percent-escaped control character, as every
    push service's endpoints are: anything else can never be delivered to."""
    return bool(_PRINTABLE_ASCII.fullmatch(endpoint)) and not _ESCAPED_CONTROL.search(endpoint)


def endpoint_url(endpoint: str) -> SplitResult | None:
    """The endpoint's parts when the sender may call it, else None: plain (`is_plain`), a
    host of the allow-list, no user info, https (plain http only to a loopback host, the
    local fakes of tests and `make run`)."""
    if not is_plain(endpoint):
        return None
    try:
        url = urlsplit(endpoint)
        url.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        return None
    host = (url.hostname or "").lower()
    if (
        not host_matches(host, allowed_hosts())
        or url.username is not None
        or not (url.scheme == "https" or (url.scheme == "http" and is_loopback(host)))
    ):
        return None
    return url
