"""The journal lists' orderings (the pagination itself is the API's: backend/pagination.py)."""

from __future__ import annotations

from backend.pagination import ApiCursorPagination


class SessionPagination(ApiCursorPagination):
    ordering = ("scheduled_start", "id")


class EntryPagination(ApiCursorPagination):
    ordering = ("-created_at", "-id")


class MeasurePagination(ApiCursorPagination):
    ordering = ("-taken_at", "-id")
