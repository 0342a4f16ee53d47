"""Cursor pagination for the journal's lists: stable while rows are added, no page counting."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


def _bad_cursor() -> ValidationError:
    return ValidationError(
        {"cursor": ["Not a cursor from this list: use the `next` or `previous` link."]}
    )


def _is_base64(text: str) -> bool:
    try:
        return bool(text) and bool(base64.b64decode(text.encode("ascii"), validate=True))
    except (binascii.Error, UnicodeEncodeError):
        return False


class JournalCursorPagination(CursorPagination):
    page_size = DEFAULT_PAGE_SIZE
    max_page_size = MAX_PAGE_SIZE
    page_size_query_param = "limit"

    def decode_cursor(self, request: Request) -> Cursor | None:
        # DRF answers a bad cursor with 404; it is a bad parameter, so a 400 on `cursor`.
        # DRF also skips characters that are not base64, so "%%%" would read as the first
        # page: a cursor this API made is always strict base64.
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is not None and not _is_base64(encoded):
            raise _bad_cursor()
        try:
            cursor: Cursor | None = super().decode_cursor(request)
        except NotFound:
            raise _bad_cursor() from None
        return cursor

    def paginate_queryset(
        self, queryset: QuerySet[Any, Any] | Sequence[Any], request: Request, view: Any = None
    ) -> list[Any] | None:
        # A cursor's position is compared with the ordering column; one that is not a value
        # of that column's type (a hand-made cursor) makes the ORM raise while filtering.
        try:
            page: list[Any] | None = super().paginate_queryset(queryset, request, view)
        except DjangoValidationError:
            raise _bad_cursor() from None
        return page

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return []  # the views document `cursor` and `limit` with their filters


class SessionPagination(JournalCursorPagination):
    ordering = ("scheduled_start", "id")


class EntryPagination(JournalCursorPagination):
    ordering = ("-created_at", "-id")


class MeasurePagination(JournalCursorPagination):
    ordering = ("-taken_at", "-id")


# The query parameters of every cursor-paginated list, as the OpenAPI document names them.
CURSOR_PARAMETER = OpenApiParameter("cursor", str, description="From `next` or `previous`.")
LIMIT_PARAMETER = OpenApiParameter(
    "limit", int, description=f"Page size (50, at most {MAX_PAGE_SIZE})."
)
