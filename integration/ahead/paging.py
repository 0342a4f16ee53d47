"""Cursor pages over the upcoming view: the journal lists' envelope (`next`, `previous`,
`results`) and parameters (`cursor`, `limit`) over a list merged from three sources.

A cursor holds a position in the list's total order (time, kind, key) and a direction:
`next` continues after the last item of a page, `previous` ends before its first one.
Items added or removed meanwhile shift nothing: a position is a value, not an offset.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass

from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.utils.urls import replace_query_param

from integration.ahead.selectors import UpcomingItem

Position = tuple[dt.datetime, int, str]

BAD_CURSOR = "Not a cursor from this list: use the `next` or `previous` link."


@dataclass(frozen=True)
class Cursor:
    position: Position
    is_reverse: bool


def encode_cursor(cursor: Cursor) -> str:
    at, kind, key = cursor.position
    payload = [at.astimezone(dt.UTC).isoformat(), kind, key, int(cursor.is_reverse)]
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode("ascii")


def decode_cursor(encoded: str) -> Cursor:
    """The cursor a link carried; 400 on `cursor` for anything this list did not make."""
    try:
        raw = base64.urlsafe_b64decode(encoded.encode("ascii"))
        at_text, kind, key, reverse = json.loads(raw)
        at = dt.datetime.fromisoformat(at_text)
        if (
            at.tzinfo is None
            or not isinstance(kind, int)
            or not isinstance(key, str)
            or reverse not in (0, 1)
        ):
            raise ValueError
    except (ValueError, TypeError, UnicodeError, binascii.Error):
        raise ValidationError({"cursor": [BAD_CURSOR]}) from None
    return Cursor(position=(at, kind, key), is_reverse=bool(reverse))


@dataclass(frozen=True)
class Page:
    items: list[UpcomingItem]
    next: Cursor | None
    previous: Cursor | None


def page_of(items: Sequence[UpcomingItem], *, cursor: Cursor | None, limit: int) -> Page:
    """The page of `items` (in their total order) that `cursor` asks for."""
    if cursor is None or not cursor.is_reverse:
        after = [item for item in items if cursor is None or item.position > cursor.position]
        page = after[:limit]
        has_next, has_previous = len(after) > limit, len(after) < len(items)
    else:
        before = [item for item in items if item.position < cursor.position]
        page = before[-limit:] if before else []
        has_next, has_previous = len(before) < len(items), len(before) > limit
    if not page:
        return Page(items=[], next=None, previous=None)
    return Page(
        items=page,
        next=Cursor(page[-1].position, is_reverse=False) if has_next else None,
        previous=Cursor(page[0].position, is_reverse=True) if has_previous else None,
    )


def link(request: Request, cursor: Cursor | None, **pinned: str) -> str | None:
    """The URL of the page at `cursor`, with `pinned` parameters fixed (the range the
    first page resolved, so a default `start` of "now" does not slide between pages)."""
    if cursor is None:
        return None
    url = request.build_absolute_uri()
    for name, value in pinned.items():
        url = replace_query_param(url, name, value)
    return str(replace_query_param(url, "cursor", encode_cursor(cursor)))
