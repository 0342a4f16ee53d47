"""The calendar feed's settings and new URL, as the patient's app reads them."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from backend.serializers import StrictSerializer
from integration.calendar_feed.models import CalendarFeed


class CalendarFeedSerializer(serializers.Serializer[Any]):
    enabled = serializers.BooleanField(source="is_enabled", help_text="The feed is on.")
    plain_titles = serializers.BooleanField(
        help_text='Events say what they are ("Esketamine dosing session", an exercise\'s '
        'title) instead of "Appointment" and "Afterglow reminder". Off by default. Journal '
        "text never appears in the feed."
    )
    created_at = serializers.DateTimeField(
        source="token_created_at",
        allow_null=True,
        help_text="When the current URL was made (turned on or rotated); null while off.",
    )
    last_read_at = serializers.DateTimeField(
        allow_null=True,
        help_text="When a calendar app last read the current URL; null until it has.",
    )

    class Meta:
        ref_name = "CalendarFeed"


class CalendarFeedSecretSerializer(CalendarFeedSerializer):
    url = serializers.URLField(
        help_text="The secret address to subscribe to, shown only this once. Anyone who "
        "has it reads your calendar: give it only to your calendar app."
    )
    webcal_url = serializers.CharField(
        help_text="The same address as webcal://, which opens a calendar app to subscribe."
    )

    class Meta:
        ref_name = "CalendarFeedSecret"


class CalendarFeedUpdateSerializer(StrictSerializer):
    plain_titles = serializers.BooleanField(required=False)

    class Meta:
        ref_name = "CalendarFeedUpdate"


def calendar_feed_data(feed: CalendarFeed) -> dict[str, Any]:
    return dict(CalendarFeedSerializer(feed).data)


def calendar_feed_secret_data(feed: CalendarFeed, *, url: str) -> dict[str, Any]:
    webcal = "webcal://" + url.split("://", 1)[1]
    return dict(
        CalendarFeedSecretSerializer({**_fields(feed), "url": url, "webcal_url": webcal}).data
    )


def _fields(feed: CalendarFeed) -> dict[str, Any]:
    return {
        "is_enabled": feed.is_enabled,
        "plain_titles": feed.plain_titles,
        "token_created_at": feed.token_created_at,
        "last_read_at": feed.last_read_at,
    }
