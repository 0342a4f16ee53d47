"""The patient's upcoming view (/api/v1/me/upcoming/)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.permissions import IsPatient
from backend.api import request_patient
from backend.pagination import (
    CURSOR_PARAMETER,
    DEFAULT_PAGE_SIZE,
    LIMIT_PARAMETER,
    MAX_PAGE_SIZE,
)
from backend.query import query_names
from backend.serializers import BoundedDateTimeField, StrictSerializer
from integration.ahead import paging, selectors
from integration.ahead.serializers import UpcomingPageSerializer, items_data
from integration.prompts.scheduling import zone_for

DEFAULT_RANGE = dt.timedelta(days=14)
# An esketamine induction (twice weekly, weeks 1-4, then weekly to week 8) fits in it; the
# bound keeps a request's work bounded, as the view reads the whole range at once.
MAX_RANGE = dt.timedelta(days=62)


class UpcomingQuerySerializer(StrictSerializer):
    start = BoundedDateTimeField(
        required=False, help_text="From this time (with its offset); default: now."
    )
    end = BoundedDateTimeField(
        required=False,
        help_text="Until this time, not included; default: 14 days after `start`, at most 62.",
    )
    cursor = serializers.CharField(required=False, max_length=512)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PAGE_SIZE)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start = attrs.get("start") or timezone.now()
        end = attrs.get("end") or start + DEFAULT_RANGE
        if end <= start:
            raise ValidationError({"end": ["Give an end after the start."]})
        if end - start > MAX_RANGE:
            raise ValidationError({"end": ["Ask for at most 62 days at once."]})
        return {**attrs, "start": start, "end": end}


def _pinned(value: dt.datetime) -> str:
    """A bound of the range as the links carry it: UTC, to the microsecond."""
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


class UpcomingView(APIView):
    permission_classes = [IsPatient]
    query_parameters = {"get": query_names(UpcomingQuerySerializer)}

    @extend_schema(
        tags=["timeline"],
        summary="What will come, and when",
        description=(
            "Your dosing sessions, the clinic's preparation reminders for them and your "
            "prompts still scheduled, from `start` to `end` (default: the next 14 days), in "
            "one list ordered by time (`at`), in cursor pages. Each item says what it is in "
            "`kind`, and its time in UTC and on your clock (`local`), so a time keeps its "
            "wall-clock meaning across a daylight-saving change. A prompt says until when "
            "it can be answered and, in `moved`, whether quiet hours, the quiet period "
            "after a dosing session, the daily limit or a snooze moved it, and from when. "
            "Cancelled sessions and their reminders and prompts are not listed. The next "
            "and previous links keep the range of the first page."
        ),
        parameters=[
            OpenApiParameter(
                "start", dt.datetime, description="From this time (with its offset); default: now."
            ),
            OpenApiParameter(
                "end",
                dt.datetime,
                description="Until this time (excluded); default: 14 days after `start`, at "
                "most 62 days after it.",
            ),
            CURSOR_PARAMETER,
            LIMIT_PARAMETER,
        ],
        responses={200: OpenApiResponse(UpcomingPageSerializer, description="A page.")},
    )
    def get(self, request: Request) -> Response:
        patient = request_patient(request)
        query = UpcomingQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        # A form field left empty reads as absent to DRF; an empty cursor is no cursor of
        # this list (the first page has none at all).
        encoded = request.query_params.get("cursor", data.get("cursor"))
        cursor = paging.decode_cursor(encoded) if encoded is not None else None
        items = selectors.upcoming_for_patient(
            patient=patient, start=data["start"], end=data["end"]
        )
        page = paging.page_of(items, cursor=cursor, limit=data.get("limit", DEFAULT_PAGE_SIZE))
        pinned = {"start": _pinned(data["start"]), "end": _pinned(data["end"])}
        zone = zone_for(patient.time_zone)
        return Response(
            {
                "next": paging.link(request, page.next, **pinned),
                "previous": paging.link(request, page.previous, **pinned),
                "results": items_data(page.items, zone, patient.time_zone),
            }
        )
