"""The sync cursor: an opaque string a client sends back, which is a change number."""

from __future__ import annotations

import base64
import binascii
import re

from rest_framework.exceptions import ValidationError

_CURSOR_PREFIX = "c1."


_CURSOR = re.compile(r"c1\.[A-Za-z0-9_-]{1,32}")


_MAX_CHANGE = 2**63 - 1


def encode_sync_cursor(change: int) -> str:
    """An opaque cursor: clients store it and send it back, and must not build one."""
    return _CURSOR_PREFIX + base64.urlsafe_b64encode(str(change).encode()).decode().rstrip("=")


def decode_sync_cursor(cursor: str) -> int:
    bad = ValidationError({"since": ["Not a cursor from this API: send the last `cursor`."]})
    if not _CURSOR.fullmatch(cursor):
        raise bad
    body = cursor.removeprefix(_CURSOR_PREFIX)
    try:
        text = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        raise bad from None
    if not text.isdigit() or int(text) > _MAX_CHANGE:
        raise bad
    return int(text)
