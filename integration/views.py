"""The patient's care-layer API: the exercise catalog, plans, their timeline settings, the
prompt inbox and push devices.

Patients only (`IsPatient`). Views parse, call one service or selector, and serialize.
"""

from __future__ import annotations

import uuid
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
from rest_framework.exceptions import NotAuthenticated, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.models import User
from backend.accounts.permissions import IsPatient
from backend.serializers import StrictSerializer
from integration import selectors, services
from integration.models import AnswerKind, Exercise, Platform, Prompt, PromptStatus
from journal import services as journal_services
from journal.models import EntryKind
from journal.pagination import MAX_PAGE_SIZE, JournalCursorPagination
from journal.views import BoundedDateTimeField, EnumField

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


def _time_field(help_text: str, **kwargs: Any) -> serializers.TimeField:
    return serializers.TimeField(
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
        return paginator.get_paginated_response(
            [PromptSerializer(_prompt_data(prompt)).data for prompt in page]
        )


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


class PromptCompleteView(APIView):
    permission_classes = [IsPatient]

    class InputSerializer(StrictSerializer):
        """The answer, written as a journal entry of the exercise's kind."""

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
            allow_blank=True,
            trim_whitespace=False,
            max_length=journal_services.BODY_MAX_CHARS,
            help_text="Your answer; stored encrypted.",
        )
        tags = serializers.ListField(
            child=serializers.CharField(min_length=1, max_length=journal_services.TAG_MAX_CHARS),
            required=False,
            max_length=journal_services.TAGS_MAX,
        )
        mood = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=10)

        class Meta:
            ref_name = "PromptComplete"

    @extend_schema(
        tags=["prompts"],
        operation_id="prompts_complete",
        summary="Answer a prompt",
        description=(
            "Writes your answer as a journal entry of the exercise's kind (linked to the "
            "prompt's session where that is allowed: an intention before it, a reflection "
            "after) and marks the prompt completed, both or neither."
        ),
        request=InputSerializer,
        responses={
            200: OpenApiResponse(PromptSerializer, description="The prompt, with `entry`."),
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
        ],
    )
    def post(self, request: Request, prompt_id: uuid.UUID) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        prompt = services.prompt_complete(
            patient=_patient(request),
            prompt_id=prompt_id,
            body=data["body"],
            title=data.get("title", ""),
            tags=data.get("tags", ()),
            mood=data.get("mood"),
            entry_id=data.get("entry_id"),
        )
        return _prompt_response(prompt)


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
