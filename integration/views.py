"""The care-layer API: for patients the exercise catalog, plans, their timeline settings,
the prompt inbox, push devices, care links, shares and the access log; for therapists the
read-only API under /api/v1/therapist/ (and their invitations).

Views parse, call one service or selector, and serialize. Therapist views go through
selectors that run `integration.access` and write the access event; they have their own
output serializers with only what a therapist may see.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.exceptions import MethodNotAllowed, NotAuthenticated, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.models import User
from backend.accounts.permissions import (
    IsAuthenticatedWithSecondFactor,
    IsPatient,
    IsTherapist,
)
from backend.serializers import StrictSerializer
from backend.throttling import ScopedRateThrottleFailingOpen
from integration import selectors, services
from integration.models import (
    AnswerKind,
    CareInvitation,
    CareLink,
    CareLinkEndedBy,
    Exercise,
    Platform,
    Prompt,
    PromptStatus,
    Share,
)
from journal import measures
from journal import services as journal_services
from journal.measures import Band, Instrument
from journal.models import (
    EntryKind,
    Modality,
    SessionKind,
    SessionStatus,
    Setting,
    TreatmentSession,
)
from journal.pagination import MAX_PAGE_SIZE, JournalCursorPagination
from journal.safety import SafetyReason, safety_block
from journal.views import (
    AfterEffectsSerializer,
    AnswerField,
    BoundedDateTimeField,
    EnumField,
    MeasureOutputSerializer,
    NoticeField,
    SafetyBlockOnErrorView,
    SafetySerializer,
)

PROBLEM = "application/problem+json"
TIME_FORMAT = "%H:%M"
DISABLED_STEPS_MAX = 50
TOKEN_MAX_CHARS = 8192


def _patient(request: Request) -> User:
    user = request.user
    if not isinstance(user, User):  # IsPatient has let only patients through
        raise NotAuthenticated()
    return user


def _problem(description: str) -> OpenApiResponse:
    return OpenApiResponse(
        response={"$ref": "#/components/schemas/Problem"}, description=description
    )


RESPONSE_404 = _problem("Not found, or not yours.")
RESPONSE_409_TRANSITION = _problem(
    "`invalid_transition`: the prompt is not in a state that allows this (for example it "
    "was already completed, skipped or has expired)."
)


# Catalog and plans ----------------------------------------------------------------------


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


def _exercise_data(exercise: Exercise) -> dict[str, Any]:
    return dict(ExerciseSerializer(_exercise_values(exercise)).data)


class ExerciseRefSerializer(serializers.Serializer[Any]):
    slug = serializers.SlugField()
    title = serializers.CharField()

    class Meta:
        ref_name = "ExerciseRef"


class PlanStepSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(help_text="Send in `disabled_steps` to switch it off.")
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


class ExerciseListView(APIView):
    permission_classes = [IsPatient]

    @extend_schema(
        tags=["timeline"],
        operation_id="exercises_list",
        summary="The exercise catalog",
        responses={200: OpenApiResponse(ExerciseSerializer(many=True), description="All.")},
    )
    def get(self, request: Request) -> Response:
        exercises = selectors.exercise_list(patient=_patient(request))
        return Response([_exercise_data(exercise) for exercise in exercises])


class PlanListView(APIView):
    permission_classes = [IsPatient]

    @extend_schema(
        tags=["timeline"],
        operation_id="plans_list",
        summary="Integration plans to choose from",
        description="Each plan's steps in order: an exercise at an offset from a dosing session.",
        responses={200: OpenApiResponse(PlanSerializer(many=True), description="All plans.")},
    )
    def get(self, request: Request) -> Response:
        plans = selectors.plan_list(patient=_patient(request))
        return Response(PlanSerializer(plans, many=True).data)


# Timeline settings ----------------------------------------------------------------------


@extend_schema_field(
    {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$", "example": "22:00"}
)
class LocalTimeField(serializers.TimeField):
    """A wall-clock time as "HH:MM". Not OpenAPI's `format: time`, which is RFC 3339's
    full-time ("22:00:00Z", with seconds and an offset): schema-driven clients would send
    that and be refused, and every answer would break the schema."""


def _time_field(help_text: str, **kwargs: Any) -> serializers.TimeField:
    return LocalTimeField(
        format=TIME_FORMAT, input_formats=[TIME_FORMAT], help_text=help_text, **kwargs
    )


class TimelineSerializer(serializers.Serializer[Any]):
    plan = serializers.SlugField(source="plan.slug", help_text="The chosen plan's slug.")
    disabled_steps = serializers.ListField(
        child=serializers.IntegerField(), help_text="Ids of the plan's steps switched off."
    )
    quiet_start = _time_field("Local time (HH:MM) quiet hours start.")
    quiet_end = _time_field("Local time (HH:MM) they end; may be earlier (past midnight).")
    max_prompts_per_day = serializers.IntegerField(min_value=1, max_value=10)
    time_zone = serializers.CharField(help_text="Your time zone (change it on /api/v1/me/).")
    updated_at = serializers.DateTimeField(allow_null=True)

    class Meta:
        ref_name = "Timeline"


class TimelineView(APIView):
    permission_classes = [IsPatient]

    class UpdateInputSerializer(StrictSerializer):
        """Only the settings to change."""

        plan = serializers.SlugField(required=False, help_text="A slug from GET /plans/.")
        disabled_steps = serializers.ListField(
            child=serializers.IntegerField(),
            required=False,
            max_length=DISABLED_STEPS_MAX,
            help_text="Ids of steps of the (new) plan to switch off; [] switches all on.",
        )
        quiet_start = _time_field("HH:MM, local time.", required=False)
        quiet_end = _time_field("HH:MM, local time; equal to quiet_start: none.", required=False)
        max_prompts_per_day = serializers.IntegerField(
            required=False,
            min_value=services.MAX_PROMPTS_PER_DAY_LIMITS[0],
            max_value=services.MAX_PROMPTS_PER_DAY_LIMITS[1],
        )

        class Meta:
            ref_name = "TimelineUpdate"

    @extend_schema(
        tags=["timeline"],
        operation_id="timeline_retrieve",
        summary="Your plan and how prompts may reach you",
        description="Until you change anything: the default plan, quiet hours 21:00-08:00.",
        responses={200: OpenApiResponse(TimelineSerializer, description="Your settings.")},
    )
    def get(self, request: Request) -> Response:
        timeline = selectors.timeline_for_patient(patient=_patient(request))
        return Response(TimelineSerializer(timeline).data)

    @extend_schema(
        tags=["timeline"],
        operation_id="timeline_update",
        summary="Choose a plan, switch steps off, set quiet hours and a daily limit",
        description=(
            "The prompts of your upcoming dosing sessions follow at once. Choosing another "
            "plan without `disabled_steps` switches all its steps on. No prompt arrives in "
            "quiet hours (your local time; a window may cross midnight), and at most "
            "`max_prompts_per_day` (the after-session check-in aside) on one day."
        ),
        request=UpdateInputSerializer,
        responses={200: OpenApiResponse(TimelineSerializer, description="Your settings.")},
        examples=[
            OpenApiExample(
                "Esketamine course, later mornings",
                value={"plan": "esketamine-course", "quiet_start": "22:00", "quiet_end": "09:00"},
                request_only=True,
            ),
            OpenApiExample(
                "Switch two steps off, two prompts a day",
                value={"disabled_steps": [5, 8], "max_prompts_per_day": 2},
                request_only=True,
            ),
        ],
    )
    def patch(self, request: Request) -> Response:
        patient = _patient(request)
        serializer = self.UpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        services.timeline_update(
            patient=patient,
            plan_slug=data.get("plan"),
            disabled_step_ids=data.get("disabled_steps"),
            quiet_start=data.get("quiet_start"),
            quiet_end=data.get("quiet_end"),
            max_prompts_per_day=data.get("max_prompts_per_day"),
        )
        timeline = selectors.timeline_for_patient(patient=patient)
        return Response(TimelineSerializer(timeline).data)


# Prompts --------------------------------------------------------------------------------


class PromptSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    exercise = ExerciseSerializer()
    session = serializers.UUIDField(help_text="The dosing session it belongs to.")
    status = EnumField(PromptStatus)
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

    class Meta:
        ref_name = "Prompt"


def _prompt_data(prompt: Prompt) -> dict[str, Any]:
    return {
        "id": prompt.id,
        "exercise": _exercise_values(prompt.exercise),
        "session": prompt.session_id,
        "status": prompt.status,
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
    }


def _prompt_response(prompt: Prompt) -> Response:
    return Response(PromptSerializer(_prompt_data(prompt)).data)


class PromptPageSerializer(serializers.Serializer[Any]):
    next = serializers.URLField(allow_null=True, help_text="The next page, if any.")
    previous = serializers.URLField(allow_null=True, help_text="The previous page, if any.")
    results = PromptSerializer(many=True)

    class Meta:
        ref_name = "PromptPage"


class PromptPagination(JournalCursorPagination):
    ordering = ("-due_at", "-id")


STATUS_PARAMETER = OpenApiParameter(
    "status",
    str,
    many=True,
    explode=True,
    enum=PromptStatus.values,
    description="Only these statuses: repeat the parameter or separate them with commas.",
)
CURSOR_PARAMETER = OpenApiParameter("cursor", str, description="From `next` or `previous`.")
LIMIT_PARAMETER = OpenApiParameter(
    "limit", int, description=f"Page size (50, at most {MAX_PAGE_SIZE})."
)


class PromptListView(APIView):
    permission_classes = [IsPatient]

    class QuerySerializer(StrictSerializer):
        """The inbox's query parameters."""

        status = serializers.ListField(child=serializers.CharField(max_length=200), required=False)
        cursor = serializers.CharField(required=False)
        limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PAGE_SIZE)

    @extend_schema(
        tags=["prompts"],
        operation_id="prompts_list",
        summary="Your prompt inbox",
        description=(
            "Prompts that are due and still open, and those finished in the last two "
            "weeks; newest due first, cursor pages. A prompt you missed as a notification "
            "is here."
        ),
        parameters=[STATUS_PARAMETER, CURSOR_PARAMETER, LIMIT_PARAMETER],
        responses={200: OpenApiResponse(PromptPageSerializer, description="A page.")},
    )
    def get(self, request: Request) -> Response:
        patient = _patient(request)
        query = self.QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        statuses = {
            part.strip()
            for value in query.validated_data.get("status", [])
            for part in value.split(",")
            if part.strip()
        }
        if statuses - set(PromptStatus.values):
            raise ValidationError(
                {"status": ["Choose from: " + ", ".join(PromptStatus.values) + "."]}
            )
        prompts = selectors.prompt_list_for_patient(
            patient=patient, now=timezone.now(), statuses=statuses or None
        )
        paginator = PromptPagination()
        page = paginator.paginate_queryset(prompts, request, view=self) or []
        # One serializer for the page: one per row would copy its fields each time.
        rows = [_prompt_data(prompt) for prompt in page]
        return paginator.get_paginated_response(PromptSerializer(rows, many=True).data)


class PromptDetailView(APIView):
    permission_classes = [IsPatient]

    @extend_schema(
        tags=["prompts"],
        summary="One of your prompts",
        description="What a notification's prompt id opens.",
        responses={
            200: OpenApiResponse(PromptSerializer, description="The prompt."),
            (404, PROBLEM): RESPONSE_404,
        },
    )
    def get(self, request: Request, prompt_id: uuid.UUID) -> Response:
        prompt = selectors.prompt_get_for_patient(patient=_patient(request), prompt_id=prompt_id)
        return _prompt_response(prompt)


class PromptOpenView(APIView):
    permission_classes = [IsPatient]

    @extend_schema(
        tags=["prompts"],
        operation_id="prompts_open",
        summary="Mark a prompt opened",
        description="A sent (or due) prompt becomes opened; opening it again changes nothing.",
        request=None,
        responses={
            200: OpenApiResponse(PromptSerializer, description="The prompt, opened."),
            (404, PROBLEM): RESPONSE_404,
            (409, PROBLEM): RESPONSE_409_TRANSITION,
        },
    )
    def post(self, request: Request, prompt_id: uuid.UUID) -> Response:
        prompt = services.prompt_open(patient=_patient(request), prompt_id=prompt_id)
        return _prompt_response(prompt)


class PromptSkipView(APIView):
    permission_classes = [IsPatient]

    @extend_schema(
        tags=["prompts"],
        operation_id="prompts_skip",
        summary="Skip a prompt",
        description="Let this one go: it is not asked again.",
        request=None,
        responses={
            200: OpenApiResponse(PromptSerializer, description="The prompt, skipped."),
            (404, PROBLEM): RESPONSE_404,
            (409, PROBLEM): RESPONSE_409_TRANSITION,
        },
    )
    def post(self, request: Request, prompt_id: uuid.UUID) -> Response:
        prompt = services.prompt_skip(patient=_patient(request), prompt_id=prompt_id)
        return _prompt_response(prompt)


class PromptSnoozeView(APIView):
    permission_classes = [IsPatient]

    class InputSerializer(StrictSerializer):
        """When to ask again."""

        until = BoundedDateTimeField(
            help_text="When to ask again: in the future and before the prompt expires."
        )

        class Meta:
            ref_name = "PromptSnooze"

    @extend_schema(
        tags=["prompts"],
        operation_id="prompts_snooze",
        summary="Ask again later",
        description=(
            "The prompt goes back to scheduled, due at `until`, and is sent again then. "
            "`until` must be in the future and before `expires_at` (400 otherwise)."
        ),
        request=InputSerializer,
        responses={
            200: OpenApiResponse(PromptSerializer, description="The prompt, snoozed."),
            (404, PROBLEM): RESPONSE_404,
            (409, PROBLEM): RESPONSE_409_TRANSITION,
        },
        examples=[
            OpenApiExample(
                "This evening", value={"until": "2025-03-05T19:00:00+01:00"}, request_only=True
            )
        ],
    )
    def post(self, request: Request, prompt_id: uuid.UUID) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        prompt = services.prompt_snooze(
            patient=_patient(request), prompt_id=prompt_id, until=serializer.validated_data["until"]
        )
        return _prompt_response(prompt)


class PromptCompletedSerializer(PromptSerializer):
    notice = NoticeField()
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


def _submitted_safety(data: Any) -> dict[str, Any] | None:
    """The safety block for answers that endorse PHQ-9 item 9, read from the raw body, so
    that it comes back even when the answer is refused or fails. (Read liberally, as the
    journal does: nine answers to a seven-item form still get it, since showing crisis
    resources to someone who did not need them costs little.)"""
    if not isinstance(data, Mapping):
        return None
    if not measures.needs_safety_response(Instrument.PHQ9, data.get("answers")):
        return None
    return safety_block(SafetyReason.PHQ9_ITEM9)


ENTRY_ANSWER_FIELDS = ("entry_id", "title", "body", "tags", "mood")
MEASURE_ANSWER_FIELDS = ("measure_id", "answers", "difficulty")


class PromptCompleteView(SafetyBlockOnErrorView):
    permission_classes = [IsPatient]

    class InputSerializer(StrictSerializer):
        """The answer: a journal entry of the exercise's kind (`body` and the fields beside
        it), or, for a measure prompt, the questionnaire's `answers`."""

        entry_id = serializers.UUIDField(
            required=False,
            help_text="Your own random UUID for the entry, so a repeated complete is safe.",
        )
        title = serializers.CharField(
            required=False,
            allow_blank=True,
            trim_whitespace=False,
            max_length=journal_services.TITLE_MAX_CHARS,
            help_text="Stored encrypted.",
        )
        body = serializers.CharField(
            required=False,
            allow_blank=True,
            trim_whitespace=False,
            max_length=journal_services.BODY_MAX_CHARS,
            help_text="Your answer; stored encrypted. Required for entry prompts.",
        )
        tags = serializers.ListField(
            child=serializers.CharField(min_length=1, max_length=journal_services.TAG_MAX_CHARS),
            required=False,
            max_length=journal_services.TAGS_MAX,
        )
        mood = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=10)
        measure_id = serializers.UUIDField(
            required=False,
            help_text="Measure prompts: your own random UUID for the measure, so a repeated "
            "complete is safe.",
        )
        answers = serializers.ListField(
            child=AnswerField(),
            required=False,
            max_length=64,
            help_text=(
                "Measure prompts (required there): one answer per item of the exercise's "
                "`instrument`, in the printed order, each 0 to 3. A bad item answers 400 "
                "with `answers.<index>` (from 0) naming it."
            ),
        )
        difficulty = AnswerField(
            required=False,
            allow_null=True,
            help_text="Measure prompts, PHQ-9 only, optional and not scored: 0 to 3.",
        )

        class Meta:
            ref_name = "PromptComplete"

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            is_measure = any(name in attrs for name in MEASURE_ANSWER_FIELDS)
            if is_measure and any(name in attrs for name in ENTRY_ANSWER_FIELDS):
                raise ValidationError(
                    {"answers": ["Send either a journal entry or a questionnaire's answers."]}
                )
            if is_measure and "answers" not in attrs:
                raise ValidationError({"answers": ["This field is required."]})
            if not is_measure and "body" not in attrs:
                raise ValidationError({"body": ["This field is required."]})
            return attrs

    @extend_schema(
        tags=["prompts"],
        operation_id="prompts_complete",
        summary="Answer a prompt",
        description=(
            "An entry prompt: writes your answer as a journal entry of the exercise's kind "
            "(linked to the prompt's session where that is allowed: an intention before it, "
            "a reflection after). A measure prompt (`answer_kind` measure): scores your "
            "`answers` as the exercise's `instrument` (as POST /measures/ does, linked to "
            "the prompt's session) and returns it in `measure_result`; when PHQ-9 item 9 is "
            "above 0 the response carries `safety`, and a linked therapist you allowed to "
            "be alerted is told by e-mail that a check-in needs their attention (never your "
            "answers). Either way the prompt is marked completed with it, both or neither. "
            "Nobody monitors the journal in real time (`notice`)."
        ),
        request=InputSerializer,
        responses={
            200: OpenApiResponse(
                PromptCompletedSerializer, description="The prompt, with `entry` or `measure`."
            ),
            (404, PROBLEM): RESPONSE_404,
            (409, PROBLEM): RESPONSE_409_TRANSITION,
        },
        examples=[
            OpenApiExample(
                "An intention",
                value={
                    "entry_id": "3d2a3c8e-0f0b-4a53-8a7e-6a1c9b2d4e51",
                    "title": "What I want to look at",
                    "body": "Why I keep holding back with my brother.",
                    "tags": ["family"],
                },
                request_only=True,
            ),
            OpenApiExample(
                "A check-in", value={"body": "Tired but calm.", "mood": 6}, request_only=True
            ),
            OpenApiExample(
                "A PHQ-9",
                value={
                    "measure_id": "5e1b7c2a-9d3f-4a60-8b1e-2c4d6f8a0b13",
                    "answers": [2, 1, 2, 2, 1, 1, 1, 0, 0],
                    "difficulty": 1,
                },
                request_only=True,
            ),
        ],
    )
    def post(self, request: Request, prompt_id: uuid.UUID) -> Response:
        patient = _patient(request)
        self.submitted_safety = _submitted_safety(request.data)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        values: dict[str, Any] = {"measure_result": None, "safety": None}
        if "answers" in data:
            answered = services.prompt_complete_measure(
                patient=patient,
                prompt_id=prompt_id,
                answers=data["answers"],
                difficulty=data.get("difficulty"),
                measure_id=data.get("measure_id"),
            )
            prompt, measure = answered.prompt, answered.measure
            values["measure_result"] = measure
            if measures.needs_safety_response(measure.instrument, measure.answers):
                values["safety"] = safety_block(SafetyReason.PHQ9_ITEM9)
        else:
            prompt = services.prompt_complete(
                patient=patient,
                prompt_id=prompt_id,
                body=data["body"],
                title=data.get("title", ""),
                tags=data.get("tags", ()),
                mood=data.get("mood"),
                entry_id=data.get("entry_id"),
            )
        return Response(PromptCompletedSerializer(_prompt_data(prompt) | values).data)


# Devices --------------------------------------------------------------------------------

WEB_PUSH_SUBSCRIPTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A Web Push subscription, as PushSubscription.toJSON() gives it.",
    "properties": {
        "endpoint": {"type": "string", "format": "uri"},
        "expirationTime": {"type": "number", "nullable": True},
        "keys": {
            "type": "object",
            "properties": {"p256dh": {"type": "string"}, "auth": {"type": "string"}},
            "required": ["p256dh", "auth"],
        },
    },
    "required": ["endpoint", "keys"],
}


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "description": "APNs (hex) or FCM token."},
            WEB_PUSH_SUBSCRIPTION_SCHEMA,
        ]
    }
)
class PushTokenField(serializers.Field):  # type: ignore[type-arg]
    """A token string (iOS, Android) or a Web Push subscription (an object or its JSON)."""

    default_error_messages = {"invalid": "Send a token string or a Web Push subscription."}

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str) and 0 < len(data) <= TOKEN_MAX_CHARS:
            return data
        if isinstance(data, dict) and len(str(data)) <= TOKEN_MAX_CHARS:
            return data
        self.fail("invalid")

    def to_representation(self, value: Any) -> Any:
        return None  # a token is never sent back


class DeviceSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    platform = EnumField(Platform)
    token_suffix = serializers.CharField(
        help_text="The token's last characters (of the endpoint, for Web Push), to tell "
        "devices apart; the token itself is never sent back."
    )
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "PushDevice"


def _device_data(device: Any) -> dict[str, Any]:
    return dict(
        DeviceSerializer(
            {
                "id": device.id,
                "platform": device.platform,
                "token_suffix": services.token_suffix(device),
                "created_at": device.created_at,
            }
        ).data
    )


class DeviceListView(APIView):
    permission_classes = [IsPatient]

    class InputSerializer(StrictSerializer):
        """A push destination: the platform and its token."""

        platform = EnumField(Platform)
        token = PushTokenField(
            help_text="iOS: the APNs device token (hex); Android: the FCM registration "
            "token; web: the Web Push subscription."
        )

        class Meta:
            ref_name = "PushDeviceRegister"

    @extend_schema(
        tags=["devices"],
        operation_id="push_devices_list",
        summary="Your devices that receive prompts",
        responses={200: OpenApiResponse(DeviceSerializer(many=True), description="Active ones.")},
    )
    def get(self, request: Request) -> Response:
        devices = selectors.device_list_for_patient(patient=_patient(request))
        return Response([_device_data(device) for device in devices])

    @extend_schema(
        tags=["devices"],
        operation_id="push_devices_register",
        summary="Receive prompts on this device",
        description=(
            "Registering the same token again answers the existing device (200). A "
            "notification carries no health detail, only a prompt id to open."
        ),
        request=InputSerializer,
        responses={
            201: OpenApiResponse(DeviceSerializer, description="Registered."),
            200: OpenApiResponse(DeviceSerializer, description="Already registered."),
        },
        examples=[
            OpenApiExample(
                "iPhone",
                value={"platform": "ios", "token": "a1" * 32},
                request_only=True,
            ),
            OpenApiExample(
                "Android",
                value={"platform": "android", "token": "fcm-registration-token:APA91b..."},
                request_only=True,
            ),
            OpenApiExample(
                "Browser",
                value={
                    "platform": "web",
                    "token": {
                        "endpoint": "https://push.example.net/send/abc123",
                        "keys": {
                            "p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u"
                            "-Ts1XbjhazAkj7I99e8QcYP7DkM",
                            "auth": "tBHItJI5svbpez7KI4CCXg",
                        },
                    },
                },
                request_only=True,
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        patient = _patient(request)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        registered = services.device_register(
            patient=patient,
            platform=serializer.validated_data["platform"],
            token=serializer.validated_data["token"],
        )
        return Response(
            _device_data(registered.device),
            status=status.HTTP_201_CREATED if registered.is_new else status.HTTP_200_OK,
        )


class DeviceDetailView(APIView):
    permission_classes = [IsPatient]

    @extend_schema(
        tags=["devices"],
        operation_id="push_devices_retire",
        summary="Stop prompts on a device",
        responses={
            204: OpenApiResponse(description="Retired."),
            (404, PROBLEM): RESPONSE_404,
        },
    )
    def delete(self, request: Request, device_id: uuid.UUID) -> Response:
        services.device_retire(patient=_patient(request), device_id=device_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


# Care links -----------------------------------------------------------------------------
#
# A therapist invites with a code; the patient previews it (whose is it?), then redeems it.
# Either side ends a link. What the therapist may then read is decided in
# `integration.access`, never here.

CODE_EXAMPLE = "K7M2-QX9P"


def _user(request: Request) -> User:
    user = request.user
    if not isinstance(user, User):  # the permission let only signed-in users through
        raise NotAuthenticated()
    return user


def _code_field() -> serializers.CharField:
    return serializers.CharField(
        max_length=32,
        write_only=True,
        help_text="The 8-character code from your therapist (case, spaces and dashes ignored).",
    )


class _PostThrottled:
    """Throttle only writes (code guesses), not the lists on the same address."""

    throttle_scope = "otp"

    def get_throttles(self) -> list[Any]:
        request = getattr(self, "request", None)
        if request is not None and request.method == "POST":
            return [ScopedRateThrottleFailingOpen()]
        return []


class TherapistRefSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    display_name = serializers.CharField()

    class Meta:
        ref_name = "TherapistRef"


class CareLinkSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    therapist = TherapistRefSerializer()
    safety_alerts_enabled = serializers.BooleanField(
        help_text="Whether safety alerts reach this therapist (your consent, off by default)."
    )
    is_active = serializers.BooleanField(help_text="False once either side ended it.")
    created_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)
    ended_by = EnumField(CareLinkEndedBy, allow_null=True)

    class Meta:
        ref_name = "CareLink"


def _care_link_data(link: CareLink) -> dict[str, Any]:
    return dict(
        CareLinkSerializer(
            {
                "id": link.id,
                "therapist": {
                    "id": link.therapist_id,
                    "display_name": link.therapist.display_name,
                },
                "safety_alerts_enabled": link.safety_alerts_enabled,
                "is_active": link.is_active,
                "created_at": link.created_at,
                "ended_at": link.ended_at,
                "ended_by": link.ended_by or None,
            }
        ).data
    )


RESPONSE_400_CODE = _problem(
    "`invalid_invitation_code`: the code is wrong, used or expired (one answer for all)."
)
RESPONSE_409_LINKED = _problem("`already_linked`: you are linked to this therapist already.")


class CareLinkPreviewView(_PostThrottled, APIView):
    permission_classes = [IsPatient]

    class InputSerializer(StrictSerializer):
        code = _code_field()

        class Meta:
            ref_name = "CareLinkPreviewRequest"

    class OutputSerializer(serializers.Serializer[Any]):
        therapist_display_name = serializers.CharField()
        expires_at = serializers.DateTimeField(help_text="The code can be used until then.")

        class Meta:
            ref_name = "CareLinkPreview"

    @extend_schema(
        tags=["care"],
        operation_id="care_links_preview",
        summary="See whose invitation a code is, before linking",
        description="Changes nothing: confirm with POST /api/v1/care-links/.",
        request=InputSerializer,
        responses={
            200: OpenApiResponse(OutputSerializer, description="The therapist who invited you."),
            (400, PROBLEM): RESPONSE_400_CODE,
            (409, PROBLEM): RESPONSE_409_LINKED,
        },
        examples=[OpenApiExample("Code", value={"code": CODE_EXAMPLE}, request_only=True)],
        extensions={"x-throttled": True},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invitation = services.invitation_preview(
            patient=_patient(request), code=serializer.validated_data["code"]
        )
        return Response(
            self.OutputSerializer(
                {
                    "therapist_display_name": invitation.therapist.display_name,
                    "expires_at": invitation.expires_at,
                }
            ).data
        )


class CareLinkCollectionView(_PostThrottled, APIView):
    permission_classes = [IsPatient]

    class InputSerializer(StrictSerializer):
        code = _code_field()
        confirm = serializers.BooleanField(
            help_text="Send true once you have seen the therapist's name (from /preview/)."
        )
        safety_alerts_enabled = serializers.BooleanField(
            default=False, help_text="Let safety alerts reach this therapist."
        )

        class Meta:
            ref_name = "CareLinkCreate"

        def validate_confirm(self, value: bool) -> bool:
            if not value:
                raise serializers.ValidationError("Confirm with true to link.")
            return value

    @extend_schema(
        tags=["care"],
        operation_id="care_links_list",
        summary="Your care links, ended ones too",
        responses={
            200: OpenApiResponse(CareLinkSerializer(many=True), description="Newest first.")
        },
    )
    def get(self, request: Request) -> Response:
        links = selectors.care_links_for_patient(patient=_patient(request))
        return Response([_care_link_data(link) for link in links])

    @extend_schema(
        tags=["care"],
        operation_id="care_links_create",
        summary="Link to a therapist with their invitation code",
        description=(
            "Uses the code up. The therapist then sees your name and the kind and time of "
            "your upcoming sessions, nothing more: they read entries only through a share."
        ),
        request=InputSerializer,
        responses={
            201: OpenApiResponse(CareLinkSerializer, description="Linked."),
            (400, PROBLEM): RESPONSE_400_CODE,
            (409, PROBLEM): RESPONSE_409_LINKED,
        },
        examples=[
            OpenApiExample(
                "Link, without safety alerts",
                value={"code": CODE_EXAMPLE, "confirm": True, "safety_alerts_enabled": False},
                request_only=True,
            )
        ],
        extensions={"x-throttled": True},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        link = services.care_link_create(
            patient=_patient(request),
            code=serializer.validated_data["code"],
            safety_alerts_enabled=serializer.validated_data["safety_alerts_enabled"],
        )
        return Response(_care_link_data(link), status=status.HTTP_201_CREATED)


class CareLinkDetailView(APIView):
    # The patient of the link, or its therapist signed in with the second factor.
    permission_classes = [IsAuthenticatedWithSecondFactor]

    @extend_schema(
        tags=["care"],
        operation_id="care_links_end",
        summary="End a care link (patient or therapist)",
        description=(
            "Every share under it stops being readable with the therapist's next request. "
            "Ending an ended link changes nothing (204)."
        ),
        responses={
            204: OpenApiResponse(description="Ended."),
            (404, PROBLEM): RESPONSE_404,
        },
    )
    def delete(self, request: Request, link_id: uuid.UUID) -> Response:
        services.care_link_end(user=_user(request), link_id=link_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


# Shares ---------------------------------------------------------------------------------


class SessionRefSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    scheduled_start = serializers.DateTimeField()

    class Meta:
        ref_name = "SessionRef"


def _session_ref(session: TreatmentSession | None) -> dict[str, Any] | None:
    if session is None or session.deleted_at is not None:
        return None
    return {"id": session.id, "scheduled_start": session.scheduled_start}


SHARE_STATE_HELP = (
    "active: readable by the therapist now; expired; revoked (by you); ended (its care link ended)."
)


class ShareStateField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=selectors.ShareState.ALL, help_text=SHARE_STATE_HELP, **kwargs)


class ShareSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    care_link = serializers.UUIDField()
    therapist = TherapistRefSerializer()
    state = ShareStateField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    revoked_at = serializers.DateTimeField(allow_null=True)
    dosing_session = SessionRefSerializer(
        allow_null=True, help_text="Everything attached to it is shared, later entries too."
    )
    integration_session = SessionRefSerializer(allow_null=True)
    entry_count = serializers.IntegerField(help_text="Entries it exposes now.")
    include_measures = serializers.BooleanField(
        help_text="Your PHQ-9 and GAD-7 scores are shared too (with your dosing sessions' dates)."
    )

    class Meta:
        ref_name = "Share"


def _share_values(share: Share) -> dict[str, Any]:
    return {
        "id": share.id,
        "care_link": share.care_link_id,
        "therapist": {"id": share.therapist_id, "display_name": share.therapist.display_name},
        "state": selectors.share_state(share),
        "created_at": share.created_at,
        "expires_at": share.expires_at,
        "revoked_at": share.revoked_at,
        "dosing_session": _session_ref(share.dosing_session),
        "integration_session": _session_ref(share.integration_session),
        "entry_count": getattr(share, "exposed_entry_count", 0),
        "include_measures": share.include_measures,
    }


class ExposedEntrySerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    kind = EnumField(EntryKind)
    title = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    shared_via = serializers.ChoiceField(
        choices=["entry", "session"],
        help_text="entry: you chose it; session: attached to the shared dosing session.",
    )

    class Meta:
        ref_name = "ExposedEntry"


class ShareExposureSerializer(serializers.Serializer[Any]):
    entries = ExposedEntrySerializer(many=True, help_text="Oldest first.")
    dosing_session_record = serializers.BooleanField(
        help_text="The dosing session's times, status, modality, setting, after-effects and "
        "overall rating (never its note)."
    )
    prompt_count = serializers.IntegerField(
        help_text="The dosing session's prompts: exercise title, due time and status."
    )
    measures = serializers.BooleanField(
        help_text="Every PHQ-9 and GAD-7 of yours, later ones too: time, total, severity band, "
        "change from your baseline (never the item answers), and the start times of your "
        "dosing sessions."
    )

    class Meta:
        ref_name = "ShareExposure"


class ShareDetailSerializer(ShareSerializer):
    exposes = ShareExposureSerializer(
        help_text="Exactly what the therapist reads while the share is active."
    )

    class Meta:
        ref_name = "ShareDetail"


RESPONSE_400_SHARE = _problem("`validation`: see `errors` for the fields.")


class ShareCollectionView(APIView):
    permission_classes = [IsPatient]

    class InputSerializer(StrictSerializer):
        care_link = serializers.UUIDField(help_text="One of your active care links.")
        entries = serializers.ListField(
            child=serializers.UUIDField(),
            required=False,
            default=list,
            max_length=services.SHARE_MAX_ENTRIES,
            help_text="Ids of your entries to share.",
        )
        dosing_session = serializers.UUIDField(
            required=False,
            allow_null=True,
            default=None,
            help_text="Share everything attached to this dosing session (intentions, "
            "reflections, exercise answers, after-effects), entries added later too.",
        )
        integration_session = serializers.UUIDField(
            required=False,
            allow_null=True,
            default=None,
            help_text="The upcoming integration session the share is for.",
        )
        expires_at = BoundedDateTimeField(
            required=False,
            allow_null=True,
            default=None,
            help_text="Default: 7 days after the integration session, or 7 days from now; "
            "at most 90 days from now.",
        )
        include_measures = serializers.BooleanField(
            default=False,
            help_text="Also share your PHQ-9 and GAD-7 scores, past and future, with the "
            "dates of your dosing sessions: your therapist sees them as charts.",
        )

        class Meta:
            ref_name = "ShareCreate"

    @extend_schema(
        tags=["care"],
        operation_id="shares_list",
        summary="Your shares, whatever their state",
        responses={200: OpenApiResponse(ShareSerializer(many=True), description="Newest first.")},
    )
    def get(self, request: Request) -> Response:
        shares = selectors.shares_for_patient(patient=_patient(request))
        return Response(ShareSerializer([_share_values(share) for share in shares], many=True).data)

    @extend_schema(
        tags=["care"],
        operation_id="shares_create",
        summary="Share entries, a dosing session and/or your measures with a linked therapist",
        description=(
            "Give entries, a dosing session, `include_measures`, or several. An entry you "
            "edit after sharing is shown to the therapist as edited. Measures are off "
            "unless you ask. Revoke at any time with DELETE."
        ),
        request=InputSerializer,
        responses={
            201: OpenApiResponse(ShareSerializer, description="Shared."),
            (400, PROBLEM): RESPONSE_400_SHARE,
        },
        examples=[
            OpenApiExample(
                "A dosing session, for the next integration session",
                value={
                    "care_link": "0b7d4c1e-2f57-4d8e-9a51-3c2e1f0a9b10",
                    "dosing_session": "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b",
                    "integration_session": "7a2b3c4d-5e6f-4a1b-8c9d-0e1f2a3b4c5d",
                    "include_measures": True,
                },
                request_only=True,
            ),
            OpenApiExample(
                "Two entries for a week",
                value={
                    "care_link": "0b7d4c1e-2f57-4d8e-9a51-3c2e1f0a9b10",
                    "entries": [
                        "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
                        "2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a",
                    ],
                    "expires_at": "2026-03-09T18:00:00Z",
                },
                request_only=True,
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        patient = _patient(request)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        share = services.share_create(
            patient=patient,
            care_link_id=data["care_link"],
            entry_ids=data["entries"],
            dosing_session_id=data["dosing_session"],
            integration_session_id=data["integration_session"],
            expires_at=data["expires_at"],
            include_measures=data["include_measures"],
        )
        created = selectors.shares_for_patient(patient=patient).get(pk=share.pk)
        return Response(
            ShareSerializer(_share_values(created)).data, status=status.HTTP_201_CREATED
        )


class ShareDetailView(APIView):
    permission_classes = [IsPatient]

    @extend_schema(
        tags=["care"],
        operation_id="shares_retrieve",
        summary="A share and exactly what it exposes",
        responses={
            200: OpenApiResponse(ShareDetailSerializer, description="The share."),
            (404, PROBLEM): RESPONSE_404,
            (410, PROBLEM): _problem(
                "`share_revoked`: revoked (DELETE); `revoked_at` says when. The list of "
                "shares keeps it as a record."
            ),
        },
    )
    def get(self, request: Request, share_id: uuid.UUID) -> Response:
        exposure = selectors.share_get_for_patient(patient=_patient(request), share_id=share_id)
        values = _share_values(exposure.share)
        values["exposes"] = {
            "entries": exposure.entries,
            "dosing_session_record": exposure.exposes_session,
            "prompt_count": exposure.prompt_count,
            "measures": exposure.share.include_measures,
        }
        return Response(ShareDetailSerializer(values).data)

    @extend_schema(
        tags=["care"],
        operation_id="shares_revoke",
        summary="Revoke a share",
        description="The therapist's next request no longer reads it. Again: no change (204).",
        responses={
            204: OpenApiResponse(description="Revoked."),
            (404, PROBLEM): RESPONSE_404,
        },
    )
    def delete(self, request: Request, share_id: uuid.UUID) -> Response:
        services.share_revoke(patient=_patient(request), share_id=share_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


# Access events (the patient's view of who read what) -------------------------------------


class AccessEventSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    actor_display_name = serializers.CharField(source="actor.display_name")
    action = serializers.CharField(
        help_text="patients.list, shares.list, shares.history, share.read, share.measures or "
        "safety_alerts.list."
    )
    share = serializers.UUIDField(source="share_id", allow_null=True)
    object_type = serializers.CharField(allow_blank=True)
    object_ids = serializers.ListField(child=serializers.CharField())
    via = serializers.ChoiceField(choices=["api", "dashboard"])
    request_id = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "AccessEvent"


class AccessEventPageSerializer(serializers.Serializer[Any]):
    next = serializers.URLField(allow_null=True, help_text="The next page, if any.")
    previous = serializers.URLField(allow_null=True, help_text="The previous page, if any.")
    results = AccessEventSerializer(many=True)

    class Meta:
        ref_name = "AccessEventPage"


class AccessEventPagination(JournalCursorPagination):
    ordering = ("-created_at", "-id")


class AccessEventListView(APIView):
    permission_classes = [IsPatient]

    class QuerySerializer(StrictSerializer):
        cursor = serializers.CharField(required=False)
        limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PAGE_SIZE)

    @extend_schema(
        tags=["care"],
        operation_id="access_events_list",
        summary="Who read your data, and what",
        description="Every read by a therapist, newest first, cursor pages.",
        parameters=[CURSOR_PARAMETER, LIMIT_PARAMETER],
        responses={200: OpenApiResponse(AccessEventPageSerializer, description="A page.")},
    )
    def get(self, request: Request) -> Response:
        query = self.QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        events = selectors.access_events_for_patient(patient=_patient(request))
        paginator = AccessEventPagination()
        page = paginator.paginate_queryset(events, request, view=self) or []
        return paginator.get_paginated_response(AccessEventSerializer(page, many=True).data)


# The therapist's API: reads only ---------------------------------------------------------
#
# Every view calls one selector that runs the access check and writes the access event in
# the transaction of the read. Output serializers are the therapist's own, field by field.


class TherapistView(APIView):
    """Therapist endpoints have no write methods: any other method is 405 whoever asks,
    before authentication, so read-only does not depend on who is signed in."""

    permission_classes = [IsTherapist]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        method = str(request.method).lower()
        if method not in self.http_method_names or not hasattr(self, method):
            raise MethodNotAllowed(method.upper())
        super().initial(request, *args, **kwargs)


RESPONSE_503_AUDIT = _problem(
    "`audit_unavailable`: the read could not be logged, so nothing of it is shown."
)


def _therapist(request: Request) -> User:
    return _user(request)  # IsTherapist has let only verified therapists through


class InvitationSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()

    class Meta:
        ref_name = "CareInvitation"


class NewInvitationSerializer(InvitationSerializer):
    code = serializers.CharField(help_text="Shown this once: give it to the patient.")

    class Meta:
        ref_name = "NewCareInvitation"


def _invitation_values(invitation: CareInvitation) -> dict[str, Any]:
    return {
        "id": invitation.id,
        "created_at": invitation.created_at,
        "expires_at": invitation.expires_at,
    }


class TherapistInvitationView(TherapistView):
    @extend_schema(
        tags=["therapist"],
        operation_id="therapist_invitations_list",
        summary="Your open invitations (codes are not shown again)",
        responses={
            200: OpenApiResponse(InvitationSerializer(many=True), description="Newest first.")
        },
    )
    def get(self, request: Request) -> Response:
        invitations = selectors.invitations_for_therapist(therapist=_therapist(request))
        return Response(
            InvitationSerializer([_invitation_values(item) for item in invitations], many=True).data
        )

    @extend_schema(
        tags=["therapist"],
        operation_id="therapist_invitations_create",
        summary="Invite a patient: a single-use code, valid 72 hours",
        description=(
            "The one write of the therapist API: it concerns your own relationships, never "
            "patient data. The patient redeems the code at POST /api/v1/care-links/."
        ),
        request=None,
        responses={201: OpenApiResponse(NewInvitationSerializer, description="Created.")},
    )
    def post(self, request: Request) -> Response:
        created = services.invitation_create(therapist=_therapist(request))
        values = _invitation_values(created.invitation) | {"code": created.code}
        return Response(NewInvitationSerializer(values).data, status=status.HTTP_201_CREATED)


class UpcomingSessionSerializer(serializers.Serializer[Any]):
    kind = EnumField(SessionKind)
    scheduled_start = serializers.DateTimeField()

    class Meta:
        ref_name = "TherapistUpcomingSession"


class LinkedPatientSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField(source="patient_id")
    display_name = serializers.CharField()
    upcoming_sessions = UpcomingSessionSerializer(many=True, help_text="Soonest first.")
    next_integration_session_at = serializers.DateTimeField(allow_null=True)
    care_link = serializers.UUIDField(
        source="care_link_id", help_text="To end the link: DELETE /api/v1/care-links/{id}/."
    )

    class Meta:
        ref_name = "TherapistLinkedPatient"


class TherapistPatientListView(TherapistView):
    @extend_schema(
        tags=["therapist"],
        operation_id="therapist_patients_list",
        summary="Your linked patients and their upcoming sessions",
        description="Names and the kind and time of upcoming sessions only. Logged per patient.",
        responses={
            200: OpenApiResponse(LinkedPatientSerializer(many=True), description="By name."),
            (503, PROBLEM): RESPONSE_503_AUDIT,
        },
    )
    def get(self, request: Request) -> Response:
        patients = selectors.linked_patients_for_therapist(
            therapist=_therapist(request), request=request, via="api"
        )
        return Response(LinkedPatientSerializer(patients, many=True).data)


class TherapistShareSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    dosing_session = SessionRefSerializer(allow_null=True)
    integration_session = SessionRefSerializer(allow_null=True)
    entry_count = serializers.IntegerField()
    include_measures = serializers.BooleanField(
        help_text="Its measures: GET /api/v1/therapist/shares/{id}/measures/."
    )

    class Meta:
        ref_name = "TherapistShare"


class TherapistPatientSharesView(TherapistView):
    @extend_schema(
        tags=["therapist"],
        operation_id="therapist_patient_shares_list",
        summary="A linked patient's shares you can read now",
        responses={
            200: OpenApiResponse(TherapistShareSerializer(many=True), description="Newest first."),
            (404, PROBLEM): _problem("Not a patient linked to you."),
            (503, PROBLEM): RESPONSE_503_AUDIT,
        },
    )
    def get(self, request: Request, patient_id: uuid.UUID) -> Response:
        shares = selectors.readable_shares_for_patient(
            therapist=_therapist(request), patient_id=patient_id, request=request, via="api"
        )
        return Response(
            [
                TherapistShareSerializer(
                    {
                        "id": share.id,
                        "created_at": share.created_at,
                        "expires_at": share.expires_at,
                        "dosing_session": _session_ref(share.dosing_session),
                        "integration_session": _session_ref(share.integration_session),
                        "entry_count": getattr(share, "exposed_entry_count", 0),
                        "include_measures": share.include_measures,
                    }
                ).data
                for share in shares
            ]
        )


class TherapistShareHistorySerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField(source="share_id")
    state = ShareStateField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    revoked_at = serializers.DateTimeField(allow_null=True)
    link_ended_at = serializers.DateTimeField(allow_null=True)

    class Meta:
        ref_name = "TherapistShareHistoryItem"


class TherapistShareHistoryView(TherapistView):
    @extend_schema(
        tags=["therapist"],
        operation_id="therapist_patient_share_history",
        summary="Every share a linked patient made with you: states and dates, no content",
        responses={
            200: OpenApiResponse(
                TherapistShareHistorySerializer(many=True), description="Newest first."
            ),
            (404, PROBLEM): _problem("Not a patient linked to you."),
            (503, PROBLEM): RESPONSE_503_AUDIT,
        },
    )
    def get(self, request: Request, patient_id: uuid.UUID) -> Response:
        history = selectors.share_history_for_therapist(
            therapist=_therapist(request), patient_id=patient_id, request=request, via="api"
        )
        return Response(TherapistShareHistorySerializer(history, many=True).data)


class SharedSessionSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    modality = EnumField(Modality, allow_null=True)
    setting = EnumField(Setting, allow_null=True)
    scheduled_start = serializers.DateTimeField()
    actual_start = serializers.DateTimeField(allow_null=True)
    actual_end = serializers.DateTimeField(allow_null=True)
    status = EnumField(SessionStatus)
    after_effects = AfterEffectsSerializer(allow_null=True)
    overall_rating = serializers.IntegerField(allow_null=True)

    class Meta:
        ref_name = "TherapistSharedSession"


class SharedEntrySerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    kind = EnumField(EntryKind)
    title = serializers.CharField(allow_blank=True)
    body = serializers.CharField(allow_blank=True)
    tags = serializers.ListField(child=serializers.CharField())
    mood = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    is_edited = serializers.BooleanField(help_text="Changed since it was shared with you.")
    shared_via = serializers.ChoiceField(
        choices=["entry", "session"],
        help_text="entry: chosen by the patient; session: attached to the shared dosing session.",
    )

    class Meta:
        ref_name = "TherapistSharedEntry"


class SharedPromptSerializer(serializers.Serializer[Any]):
    exercise_title = serializers.CharField()
    due_at = serializers.DateTimeField()
    status = EnumField(PromptStatus)
    completed_at = serializers.DateTimeField(allow_null=True)

    class Meta:
        ref_name = "TherapistSharedPrompt"


class SharePatientSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField(source="patient_id")
    display_name = serializers.CharField(source="patient_display_name")

    class Meta:
        ref_name = "TherapistSharePatient"


class ShareContentSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField(source="share_id")
    patient = SharePatientSerializer(source="*")
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    dosing_session = SharedSessionSerializer(allow_null=True)
    integration_session = SessionRefSerializer(allow_null=True)
    entries = SharedEntrySerializer(many=True, help_text="Oldest first.")
    prompts = SharedPromptSerializer(many=True, help_text="The dosing session's, by due time.")
    include_measures = serializers.BooleanField(
        help_text="Its measures: GET /api/v1/therapist/shares/{id}/measures/."
    )

    class Meta:
        ref_name = "TherapistShareContent"


class TherapistShareContentView(TherapistView):
    @extend_schema(
        tags=["therapist"],
        operation_id="therapist_shares_retrieve",
        summary="What a share lets you read",
        description=(
            "The same 404 for a share that does not exist, is another therapist's, was "
            "revoked, has expired or whose care link ended. Each read is logged for the "
            "patient; when it cannot be logged the read is refused with 503."
        ),
        responses={
            200: OpenApiResponse(ShareContentSerializer, description="The share's content."),
            (404, PROBLEM): RESPONSE_404,
            (503, PROBLEM): RESPONSE_503_AUDIT,
        },
    )
    def get(self, request: Request, share_id: uuid.UUID) -> Response:
        content = selectors.share_content_for_therapist(
            therapist=_therapist(request), share_id=share_id, request=request, via="api"
        )
        return Response(ShareContentSerializer(content).data)


class MeasureBandSerializer(serializers.Serializer[Any]):
    band = EnumField(Band)
    name = serializers.CharField(source="label", help_text="As printed: Minimal, Mild...")
    minimum = serializers.IntegerField()
    maximum = serializers.IntegerField()

    class Meta:
        ref_name = "TherapistMeasureBand"


class MeasurePointSerializer(serializers.Serializer[Any]):
    taken_at = serializers.DateTimeField()
    total = serializers.IntegerField()
    band = EnumField(Band)
    is_baseline = serializers.BooleanField(help_text="The course's baseline score.")
    change_from_baseline = serializers.IntegerField(
        allow_null=True, help_text="Total minus the baseline total; null without a baseline."
    )
    percent_change = serializers.FloatField(
        allow_null=True, help_text="Of the baseline, one decimal; null for a baseline of 0."
    )
    is_response = serializers.BooleanField(
        allow_null=True,
        help_text="At least 50% below the baseline. Null before the first dosing session or "
        "without a baseline of at least 10.",
    )
    is_remission = serializers.BooleanField(
        allow_null=True, help_text="Below `remission_below`. Null when `is_response` is."
    )

    class Meta:
        ref_name = "TherapistMeasurePoint"


class MeasureSeriesSerializer(serializers.Serializer[Any]):
    instrument = EnumField(Instrument)
    name = serializers.CharField()
    max_total = serializers.IntegerField()
    bands = MeasureBandSerializer(many=True, help_text="Severity bands, lowest first.")
    remission_below = serializers.IntegerField()
    first_dosing_session_at = serializers.DateTimeField(allow_null=True)
    baseline = MeasurePointSerializer(
        allow_null=True, help_text="The last score before the first dosing session."
    )
    response_at_most = serializers.FloatField(
        allow_null=True,
        help_text="Totals at or below this (half the baseline) are a response; null when "
        "the flags do not apply.",
    )
    points = MeasurePointSerializer(many=True, help_text="Oldest first.")

    class Meta:
        ref_name = "TherapistMeasureSeries"


class ShareMeasuresSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField(source="share_id")
    patient = SharePatientSerializer(source="*")
    expires_at = serializers.DateTimeField()
    dosing_sessions = serializers.ListField(
        child=serializers.DateTimeField(),
        help_text="Starts of the patient's dosing sessions so far, oldest first.",
    )
    series = MeasureSeriesSerializer(many=True, help_text="PHQ-9, then GAD-7.")

    class Meta:
        ref_name = "TherapistShareMeasures"


class TherapistShareMeasuresView(TherapistView):
    @extend_schema(
        tags=["therapist"],
        operation_id="therapist_shares_measures",
        summary="A share's measures: PHQ-9 and GAD-7 over time",
        description=(
            "For a share that includes measures: each instrument's scores (time, total, "
            "severity band, change from baseline, response and remission; never the item "
            "answers), its bands and thresholds, and the start times of the patient's "
            "dosing sessions: what the dashboard's charts draw. The same 404 as for any "
            "share you may not read, and for one without measures. Each read is logged for "
            "the patient."
        ),
        responses={
            200: OpenApiResponse(ShareMeasuresSerializer, description="The series."),
            (404, PROBLEM): RESPONSE_404,
            (503, PROBLEM): RESPONSE_503_AUDIT,
        },
    )
    def get(self, request: Request, share_id: uuid.UUID) -> Response:
        content = selectors.share_measures_for_therapist(
            therapist=_therapist(request), share_id=share_id, request=request, via="api"
        )
        return Response(ShareMeasuresSerializer(content).data)
