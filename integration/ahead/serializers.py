"""The upcoming view's shapes: one list of three kinds of item, told apart by `kind`."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import TextChoices
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers

from backend.serializers import EnumField
from integration.ahead.models import PromptMove
from integration.ahead.selectors import ItemKind, UpcomingItem
from journal.models import Modality, SessionStatus

WALL_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"


class UpcomingKind(TextChoices):
    SESSION = "session", "A dosing session"
    REMINDER = "reminder", "A preparation reminder of a dosing session"
    PROMPT = "prompt", "A prompt still scheduled"


KIND_NAMES = {
    ItemKind.SESSION: UpcomingKind.SESSION,
    ItemKind.REMINDER: UpcomingKind.REMINDER,
    ItemKind.PROMPT: UpcomingKind.PROMPT,
}


@extend_schema_field(
    {
        "type": "string",
        "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$",
        "example": "2026-03-30T09:00:00",
    }
)
class WallTimeField(serializers.CharField):
    """A local wall-clock date and time, without an offset."""


class ZonedTimeSerializer(serializers.Serializer[Any]):
    wall_time = WallTimeField(help_text="What a clock in `time_zone` shows then.")
    time_zone = serializers.CharField(help_text="Your IANA time zone (set it on /api/v1/me/).")
    utc_offset = serializers.RegexField(
        r"^[+-]\d{2}:\d{2}$", help_text="The zone's offset from UTC then, e.g. +02:00."
    )

    class Meta:
        ref_name = "ZonedTime"


def zoned(instant: dt.datetime, zone: ZoneInfo, zone_name: str) -> dict[str, str]:
    local = instant.astimezone(zone)
    offset = local.utcoffset() or dt.timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return {
        "wall_time": local.strftime(WALL_TIME_FORMAT),
        "time_zone": zone_name,
        "utc_offset": f"{sign}{hours:02d}:{minutes:02d}",
    }


class UpcomingItemSerializer(serializers.Serializer[Any]):
    """What every kind of item has."""

    at = serializers.DateTimeField(
        help_text="When, in UTC: a session's scheduled start, a reminder's time, a "
        "prompt's due time. The list is ordered by it."
    )
    local = ZonedTimeSerializer(help_text="`at` on your clock.")
    session = serializers.UUIDField(help_text="The dosing session it belongs to (or is).")


class UpcomingSessionSerializer(UpcomingItemSerializer):
    """A dosing session (`kind` "session"); `at` is its scheduled start."""

    kind = EnumField(UpcomingKind)
    id = serializers.UUIDField(help_text="The session (GET /api/v1/sessions/{id}/).")
    modality = EnumField(Modality, allow_null=True)
    status = EnumField(SessionStatus, help_text="Scheduled, or completed already.")

    class Meta:
        ref_name = "UpcomingSession"


class UpcomingReminderSerializer(UpcomingItemSerializer):
    """A preparation reminder of a dosing session (`kind` "reminder"), from your plan."""

    kind = EnumField(UpcomingKind)
    slug = serializers.SlugField(help_text="Which reminder of the plan (`no-food`, ...).")
    title = serializers.CharField()
    detail = serializers.CharField(help_text="What the clinic asks, in plain words.")
    ends_at = serializers.DateTimeField(
        allow_null=True, help_text="When it ends, for one that lasts (monitoring)."
    )

    class Meta:
        ref_name = "UpcomingReminder"


class UpcomingExerciseSerializer(serializers.Serializer[Any]):
    slug = serializers.SlugField()
    title = serializers.CharField()
    estimated_minutes = serializers.IntegerField()

    class Meta:
        ref_name = "UpcomingExercise"


class PromptMovedSerializer(serializers.Serializer[Any]):
    from_at = serializers.DateTimeField(help_text="Its plan step's own time, in UTC.")
    from_local = ZonedTimeSerializer(help_text="`from_at` on your clock.")
    reasons = serializers.ListField(
        child=EnumField(PromptMove),
        help_text="What moved it; empty for a prompt planned before reasons were kept.",
    )

    class Meta:
        ref_name = "PromptMoved"


class UpcomingPromptSerializer(UpcomingItemSerializer):
    """A prompt still scheduled (`kind` "prompt"); `at` is its due time."""

    kind = EnumField(UpcomingKind)
    id = serializers.UUIDField(help_text="The prompt (GET /api/v1/prompts/{id}/).")
    exercise = UpcomingExerciseSerializer()
    answer_until = serializers.DateTimeField(
        help_text="Unanswered by then (UTC), it expires: its answer window is [at, answer_until)."
    )
    answer_until_local = ZonedTimeSerializer()
    moved = PromptMovedSerializer(
        allow_null=True,
        help_text="Set when it is due later than its plan step's own time: quiet hours, "
        "the quiet period after a dosing session, the daily limit or a snooze moved it.",
    )

    class Meta:
        ref_name = "UpcomingPrompt"


UPCOMING_ITEM = PolymorphicProxySerializer(
    component_name="UpcomingItem",
    serializers={
        UpcomingKind.SESSION.value: UpcomingSessionSerializer,
        UpcomingKind.REMINDER.value: UpcomingReminderSerializer,
        UpcomingKind.PROMPT.value: UpcomingPromptSerializer,
    },
    resource_type_field_name="kind",
    many=False,
)


@extend_schema_field(UPCOMING_ITEM)
class UpcomingItemField(serializers.Field):  # type: ignore[type-arg]
    def to_representation(self, value: dict[str, Any]) -> dict[str, Any]:
        return value


class UpcomingPageSerializer(serializers.Serializer[Any]):
    """The envelope of the journal's lists."""

    next = serializers.URLField(allow_null=True, help_text="The next page, if any.")
    previous = serializers.URLField(allow_null=True, help_text="The previous page, if any.")
    results = serializers.ListField(child=UpcomingItemField())

    class Meta:
        ref_name = "UpcomingPage"


SERIALIZERS: dict[ItemKind, type[UpcomingItemSerializer]] = {
    ItemKind.SESSION: UpcomingSessionSerializer,
    ItemKind.REMINDER: UpcomingReminderSerializer,
    ItemKind.PROMPT: UpcomingPromptSerializer,
}


def item_values(item: UpcomingItem, zone: ZoneInfo, zone_name: str) -> dict[str, Any]:
    values: dict[str, Any] = {
        "kind": KIND_NAMES[item.kind],
        "at": item.at,
        "local": zoned(item.at, zone, zone_name),
        "session": item.session_id,
    }
    if item.session is not None:
        values.update(
            id=item.session.pk,
            modality=item.session.modality or None,
            status=item.session.status,
        )
    if item.reminder is not None:
        values.update(
            slug=item.reminder.slug,
            title=item.reminder.title,
            detail=item.reminder.detail,
            ends_at=item.reminder_ends_at,
        )
    if item.prompt is not None:
        prompt = item.prompt
        values.update(
            id=prompt.pk,
            exercise={
                "slug": prompt.exercise.slug,
                "title": prompt.exercise.title,
                "estimated_minutes": prompt.exercise.estimated_minutes,
            },
            answer_until=prompt.expires_at,
            answer_until_local=zoned(prompt.expires_at, zone, zone_name),
            moved=_moved(prompt, zone, zone_name),
        )
    return values


def _moved(prompt: Any, zone: ZoneInfo, zone_name: str) -> dict[str, Any] | None:
    if prompt.due_at == prompt.nominal_at:
        return None
    reasons = [PromptMove.SNOOZED] if prompt.snoozed_until is not None else prompt.moved_by
    return {
        "from_at": prompt.nominal_at,
        "from_local": zoned(prompt.nominal_at, zone, zone_name),
        "reasons": list(reasons),
    }


def items_data(items: list[UpcomingItem], zone: ZoneInfo, zone_name: str) -> list[Any]:
    """The page's items as the API writes them: one serializer per kind for the page."""
    by_kind: dict[ItemKind, list[dict[str, Any]]] = {}
    for item in items:
        by_kind.setdefault(item.kind, []).append(item_values(item, zone, zone_name))
    rendered = {
        kind: iter(SERIALIZERS[kind](rows, many=True).data) for kind, rows in by_kind.items()
    }
    return [next(rendered[item.kind]) for item in items]
