"""The patient's calendar feed: its settings (/api/v1/me/calendar/), and the feed itself
(/api/v1/calendar/<secret>.ics), which any calendar app reads with the secret alone."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.http import HttpResponse
from django.urls import reverse
from django.utils.http import parse_etags
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.models import User
from backend.accounts.permissions import IsPatient
from backend.api import (
    PROBLEM,
    current_on_conflict,
    input_data,
    problem_openapi,
    problem_with_current,
    request_patient,
)
from integration.calendar_feed import selectors, services
from integration.calendar_feed.serializers import (
    CalendarFeedSecretSerializer,
    CalendarFeedSerializer,
    CalendarFeedUpdateSerializer,
    calendar_feed_data,
    calendar_feed_secret_data,
)
from integration.calendar_feed.services import FeedSecret
from integration.calendar_feed.throttling import FeedAddressThrottle, FeedTokenThrottle

ICALENDAR_CONTENT_TYPE = "text/calendar; charset=utf-8"

F = TypeVar("F", bound=Callable[..., Any])

RESPONSE_409_ENABLED = problem_with_current(
    "`calendar_feed_enabled`: the feed is on already (its address is not shown again: "
    "rotate for a new one); `current` holds its settings.",
    "CalendarFeed",
)
RESPONSE_409_DISABLED = problem_with_current(
    "`calendar_feed_disabled`: the feed is off: turn it on; `current` holds its settings.",
    "CalendarFeed",
)


def _settings_data(patient: User) -> dict[str, Any]:
    return calendar_feed_data(selectors.calendar_feed_for_patient(patient=patient))


def _feed_url(request: Request, secret: FeedSecret) -> str:
    path = reverse("calendar-feed-read", kwargs={"token": secret.token})
    base = str(settings.CALENDAR_FEED_BASE_URL or "")
    return f"{base}{path}" if base else request.build_absolute_uri(path)


def _new_address_schema(
    *, summary: str, description: str, answer: tuple[int, str], conflict: OpenApiResponse
) -> Callable[[F], F]:
    """The declaration of an operation that answers a new secret address: no body, the
    address (`answer`: its status and description) or a 409 (`conflict`)."""
    status_code, answer_description = answer
    return extend_schema(
        tags=["calendar"],
        summary=summary,
        description=description,
        request=None,
        responses={
            status_code: OpenApiResponse(
                CalendarFeedSecretSerializer, description=answer_description
            ),
            (409, PROBLEM): conflict,
        },
    )


def _new_address(request: Request, make: Callable[..., FeedSecret], status_code: int) -> Response:
    """Makes the feed a secret address (turning it on, or rotating it) and answers the
    address, shown this once; a 409 carries the settings as they are now."""
    patient = request_patient(request)
    with current_on_conflict(lambda: _settings_data(patient)):
        secret = make(patient=patient)
    return Response(
        calendar_feed_secret_data(secret.feed, url=_feed_url(request, secret)),
        status=status_code,
    )


class CalendarFeedView(APIView):
    permission_classes = [IsPatient]

    @extend_schema(
        tags=["calendar"],
        summary="Your calendar feed's settings",
        description="Whether the feed is on, since when, its last read, and its titles. "
        "The address is never shown here: only when it is made.",
        responses={200: OpenApiResponse(CalendarFeedSerializer, description="The settings.")},
    )
    def get(self, request: Request) -> Response:
        feed = selectors.calendar_feed_for_patient(patient=request_patient(request))
        return Response(calendar_feed_data(feed))

    @_new_address_schema(
        summary="Turn your calendar feed on",
        description=(
            "Makes a secret address (an iCalendar feed, RFC 5545) that a calendar app "
            "subscribes to: your sessions, their preparation reminders as alarms, and your "
            "prompts. The address is in this answer only; it is stored as a hash. Events "
            'say "Appointment" and "Afterglow reminder" unless you turn `plain_titles` on. '
            "A feed that is on already answers 409: rotate it for a new address."
        ),
        answer=(status.HTTP_201_CREATED, "On, with its URL."),
        conflict=RESPONSE_409_ENABLED,
    )
    def post(self, request: Request) -> Response:
        return _new_address(request, services.calendar_feed_enable, status.HTTP_201_CREATED)

    @extend_schema(
        tags=["calendar"],
        summary="Change your calendar feed's titles",
        description="Works with the feed on or off; the setting stays when it is turned off.",
        request=CalendarFeedUpdateSerializer,
        responses={200: OpenApiResponse(CalendarFeedSerializer, description="The settings.")},
        examples=[
            OpenApiExample(
                "Say what each event is", value={"plain_titles": True}, request_only=True
            ),
        ],
    )
    def patch(self, request: Request) -> Response:
        data = input_data(request, CalendarFeedUpdateSerializer)
        feed = services.calendar_feed_update(
            patient=request_patient(request),
            plain_titles=data.get("plain_titles"),
        )
        return Response(calendar_feed_data(feed))

    @extend_schema(
        tags=["calendar"],
        summary="Turn your calendar feed off",
        description="Its address answers 404 at once. Turning off a feed that is off is no error.",
        responses={204: OpenApiResponse(description="Off.")},
    )
    def delete(self, request: Request) -> Response:
        services.calendar_feed_disable(patient=request_patient(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class CalendarFeedRotateView(APIView):
    permission_classes = [IsPatient]

    @_new_address_schema(
        summary="Give your calendar feed a new address",
        description="The old address answers 404 at once; subscribe your calendar app to "
        "the new one, shown in this answer only.",
        answer=(status.HTTP_200_OK, "Its new URL."),
        conflict=RESPONSE_409_DISABLED,
    )
    def post(self, request: Request) -> Response:
        return _new_address(request, services.calendar_feed_rotate, status.HTTP_200_OK)


class ICalendarRenderer(BaseRenderer):
    """text/calendar for the feed; a problem document (an error) as JSON, under the
    problem content type the exception handler sets."""

    media_type = "text/calendar"
    format = "ics"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Any = None,
    ) -> bytes:
        if isinstance(data, bytes):
            return data
        return JSONRenderer().render(data)


class FeedNegotiation(BaseContentNegotiation):
    """Calendar apps send every kind of Accept header; the feed answers iCalendar (and
    its errors a problem document) whatever they say."""

    def select_parser(self, request: Request, parsers: Any) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(
        self, request: Request, renderers: Any, format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        return renderers[0], renderers[0].media_type


class CalendarFeedReadView(APIView):
    """No account, no cookie: the secret in the address is the only credential."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    renderer_classes = [ICalendarRenderer]
    content_negotiation_class = FeedNegotiation
    throttle_classes = [FeedAddressThrottle, FeedTokenThrottle]
    throttle_scope = "calendar_feed"
    address_throttle_scope = "calendar_feed_address"

    @extend_schema(
        tags=["calendar"],
        summary="The calendar feed (iCalendar)",
        description=(
            "What a calendar app subscribes to: an iCalendar document (RFC 5545) with your "
            "sessions (cancelled ones marked `STATUS:CANCELLED`), their preparation "
            "reminders as alarms, and your prompts, times in UTC, each event's UID stable "
            "so a moved session moves. No sign-in: the address is the credential. Each "
            "read is in your access events (`calendar_feed.read`). An unknown, rotated or "
            "turned-off address answers the same 404."
        ),
        parameters=[
            OpenApiParameter(
                "token",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                description="The feed's secret, from the address you were given.",
            )
        ],
        responses={
            (200, "text/calendar"): OpenApiResponse(
                OpenApiTypes.STR, description="The feed, an iCalendar document."
            ),
            304: OpenApiResponse(
                description="Unchanged since the version whose `ETag` was sent in "
                "`If-None-Match`: no body."
            ),
            (404, PROBLEM): problem_openapi(
                "No feed at this address: unknown, rotated or turned off (one answer for all)."
            ),
            (503, PROBLEM): problem_openapi(
                "`audit_unavailable`: the read could not be logged, so nothing was sent; try "
                "again later."
            ),
        },
        extensions={"x-throttled": True},
    )
    def get(self, request: Request, token: str) -> HttpResponse:
        document = services.calendar_feed_read(token=token, request=request)
        # The same data gives the same bytes (ical.py): an app that sends back the ETag it
        # has gets 304 and no body while nothing changed (the read is still logged).
        etag = f'"{hashlib.sha256(document).hexdigest()[:32]}"'
        if etag in parse_etags(request.headers.get("If-None-Match", "")):
            response = HttpResponse(status=status.HTTP_304_NOT_MODIFIED)
        else:
            response = HttpResponse(document, content_type=ICALENDAR_CONTENT_TYPE)
        response["ETag"] = etag
        response["Content-Disposition"] = 'inline; filename="afterglow.ics"'
        return response
