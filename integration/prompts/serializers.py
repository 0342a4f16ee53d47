"""The prompt side's API shapes: exercises, plans, timeline settings, prompts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drf_spectacular.utils import (
    extend_schema_field,
)
from rest_framework import serializers
from rest_framework.response import Response

from backend.pagination import pages_of
from backend.serializers import EnumField
from integration.models import (
    AnswerKind,
    Exercise,
    Prompt,
    PromptDelivery,
    PromptStatus,
)
from journal import instruments
from journal.api import NoticeField
from journal.instruments import Instrument
from journal.measures.serializers import MeasureOutputSerializer, SafetySerializer
from journal.models import (
    EntryKind,
)
from journal.safety import SafetyReason, safety_block

TIME_FORMAT = "%H:%M"


DISABLED_STEPS_MAX = 50


class ExerciseSerializer(serializers.Serializer[Any]):
    slug = serializers.SlugField()
    title = serializers.CharField()
    instructions = serializers.CharField()
    estimated_minutes = serializers.IntegerField()
    answer_kind = EnumField(AnswerKind, help_text="How a prompt of it is answered.")
    entry_kind = EnumField(
        EntryKind, allow_null=True, help_text="The kind of journal entry an answer creates."
    )
    instrument = EnumField(
        Instrument,
        allow_null=True,
        help_text="For measure answers: the questionnaire (its form: GET /measures/instruments/).",
    )
    is_safety_relevant = serializers.BooleanField(
        help_text="May arrive in the quiet period right after a dosing session."
    )

    class Meta:
        ref_name = "Exercise"


def _exercise_values(exercise: Exercise) -> dict[str, Any]:
    return {
        "slug": exercise.slug,
        "title": exercise.title,
        "instructions": exercise.instructions,
        "estimated_minutes": exercise.estimated_minutes,
        "answer_kind": exercise.answer_kind,
        "entry_kind": exercise.entry_kind or None,
        "instrument": exercise.instrument or None,
        "is_safety_relevant": exercise.is_safety_relevant,
    }


def exercise_data(exercise: Exercise) -> dict[str, Any]:
    return dict(ExerciseSerializer(_exercise_values(exercise)).data)


ExercisePageSerializer = pages_of("ExercisePage", ExerciseSerializer)


class ExerciseRefSerializer(serializers.Serializer[Any]):
    slug = serializers.SlugField()
    title = serializers.CharField()

    class Meta:
        ref_name = "ExerciseRef"


class PlanStepSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField(
        source="public_id", help_text="Send in `disabled_steps` to switch it off."
    )
    position = serializers.IntegerField()
    exercise = ExerciseRefSerializer()
    offset_seconds = serializers.SerializerMethodField(
        help_text="From the dosing session's start; negative: before it."
    )
    answer_window_seconds = serializers.SerializerMethodField(
        help_text="How long a prompt stays open after it is due before it expires."
    )
    is_course_start_only = serializers.BooleanField(
        help_text="Only before a dosing session that starts a course (none in the 28 days "
        "before it): the measures before a course."
    )

    class Meta:
        ref_name = "PlanStep"

    def get_offset_seconds(self, step: Any) -> int:
        return int(step.offset.total_seconds())

    def get_answer_window_seconds(self, step: Any) -> int:
        return int(step.answer_window.total_seconds())


class PlanSerializer(serializers.Serializer[Any]):
    slug = serializers.SlugField()
    name = serializers.CharField()
    description = serializers.CharField()
    is_default = serializers.BooleanField(help_text="The plan of a patient who chose none.")
    is_demo = serializers.BooleanField(help_text="Minute-scale demonstration; not for treatment.")
    steps = PlanStepSerializer(many=True)

    class Meta:
        ref_name = "Plan"


PlanPageSerializer = pages_of("PlanPage", PlanSerializer)


@extend_schema_field(
    {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$", "example": "22:00"}
)
class LocalTimeField(serializers.TimeField):
    """A wall-clock time as "HH:MM". Not OpenAPI's `format: time`, which is RFC 3339's
    full-time ("22:00:00Z", with seconds and an offset): schema-driven clients would send
    that and be refused, and every answer would break the schema."""


def time_field(help_text: str, **kwargs: Any) -> serializers.TimeField:
    return LocalTimeField(
        format=TIME_FORMAT, input_formats=[TIME_FORMAT], help_text=help_text, **kwargs
    )


class TimelineSerializer(serializers.Serializer[Any]):
    plan = serializers.SlugField(source="plan.slug", help_text="The chosen plan's slug.")
    disabled_steps = serializers.ListField(
        child=serializers.UUIDField(), help_text="Ids of the plan's steps switched off."
    )
    quiet_start = time_field("Local time (HH:MM) quiet hours start.")
    quiet_end = time_field("Local time (HH:MM) they end; may be earlier (past midnight).")
    max_prompts_per_day = serializers.IntegerField(min_value=1, max_value=10)
    time_zone = serializers.CharField(help_text="Your time zone (change it on /api/v1/me/).")
    updated_at = serializers.DateTimeField(allow_null=True)

    class Meta:
        ref_name = "Timeline"


class PromptSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    exercise = ExerciseSerializer()
    session = serializers.UUIDField(help_text="The dosing session it belongs to.")
    status = EnumField(PromptStatus)
    delivered_via = EnumField(
        PromptDelivery,
        allow_null=True,
        help_text=(
            "How it reached the patient once sent: `push` (a device took the notification) "
            "or `inbox` (no device could: it is in the inbox only). Null before it is sent. "
            "It stays after the prompt is opened or completed."
        ),
    )
    due_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(help_text="Unanswered by then, it expires.")
    snoozed_until = serializers.DateTimeField(allow_null=True)
    entry = serializers.UUIDField(allow_null=True, help_text="The entry that answered it.")
    measure = serializers.UUIDField(
        allow_null=True, help_text="The measure (questionnaire) that answered it."
    )
    created_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True)
    opened_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    skipped_at = serializers.DateTimeField(allow_null=True)
    expired_at = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)
    answered_late_at = serializers.DateTimeField(
        allow_null=True,
        help_text=(
            "Set when an answer written offline arrived after the prompt closed: the answer "
            "was kept (`entry` or `measure`) and the prompt kept its status."
        ),
    )

    class Meta:
        ref_name = "Prompt"


def prompt_data(prompt: Prompt) -> dict[str, Any]:
    return {
        "id": prompt.id,
        "exercise": _exercise_values(prompt.exercise),
        "session": prompt.session_id,
        "status": prompt.status,
        "delivered_via": prompt.delivered_via or None,
        "due_at": prompt.due_at,
        "expires_at": prompt.expires_at,
        "snoozed_until": prompt.snoozed_until,
        "entry": prompt.entry_id,
        "measure": prompt.measure_id,
        "created_at": prompt.created_at,
        "sent_at": prompt.sent_at,
        "opened_at": prompt.opened_at,
        "completed_at": prompt.completed_at,
        "skipped_at": prompt.skipped_at,
        "expired_at": prompt.expired_at,
        "cancelled_at": prompt.cancelled_at,
        "answered_late_at": prompt.answered_late_at,
    }


def prompt_response(prompt: Prompt) -> Response:
    return Response(PromptSerializer(prompt_data(prompt)).data)


PromptPageSerializer = pages_of("PromptPage", PromptSerializer)


class PromptCompletedSerializer(PromptSerializer):
    notice = NoticeField()
    late = serializers.BooleanField(
        help_text=(
            "True when the prompt had closed (expired, cancelled, skipped or answered "
            "elsewhere) before the answer arrived: the answer is kept, as `answer` says, and "
            "the prompt keeps its status."
        )
    )
    answer = serializers.UUIDField(help_text="The entry or measure this answer made.")
    measure_result = MeasureOutputSerializer(
        allow_null=True,
        help_text="For a measure prompt: the measure your answers made (total, severity band).",
    )
    safety = SafetySerializer(
        allow_null=True,
        help_text=(
            "Present when a PHQ-9's item 9 (thoughts of being better off dead or of hurting "
            "yourself) is above 0: show its message and crisis resources at once. Also added "
            "to an error answering such a submission. Null otherwise."
        ),
    )

    class Meta:
        ref_name = "PromptCompleted"


def submitted_safety(data: Any, *, country: str | None) -> dict[str, Any] | None:
    """The safety block for answers that endorse PHQ-9 item 9, read from the raw body, so
    that it comes back even when the answer is refused or fails. (Read liberally, as the
    journal does: nine answers to a seven-item form still get it, since showing crisis
    resources to someone who did not need them costs little.)"""
    if not isinstance(data, Mapping):
        return None
    if not instruments.needs_safety_response(Instrument.PHQ9, data.get("answers")):
        return None
    return safety_block(SafetyReason.PHQ9_ITEM9, country=country)


ENTRY_ANSWER_FIELDS = ("entry_id", "title", "body", "tags", "mood")


MEASURE_ANSWER_FIELDS = ("measure_id", "answers", "difficulty")
