"""Cursor pagination for the journal's lists: stable while rows are added, no page counting."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


class JournalCursorPagination(CursorPagination):
    page_size = DEFAULT_PAGE_SIZE
    max_page_size = MAX_PAGE_SIZE
    page_size_query_param = "limit"

    def decode_cursor(self, request: Request) -> Cursor | None:
        # DRF answers a bad cursor with 404; it is a bad parameter, so a 400 on `cursor`.
        try:
            cursor: Cursor | None = super().decode_cursor(request)
        except NotFound:
            raise ValidationError(
                {"cursor": ["Not a cursor from this list: use the `next` or `previous` link."]}
            ) from None
        return cursor

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return []  # the views document `cursor` and `limit` with their filters


class SessionPagination(JournalCursorPagination):
    ordering = ("scheduled_start", "id")


class EntryPagination(JournalCursorPagination):
    ordering = ("-created_at", "-id")


class MeasurePagination(JournalCursorPagination):
    ordering = ("-taken_at", "-id")
