"""The patient's catalog, timeline settings and prompt inbox (/api/v1/exercises/, plans/,
me/plan/, prompts/).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.permissions import (
    IsPatient,
)
from backend.api import (
    PROBLEM,
    RESPONSE_404,
    Documented,
    PageListView,
    detail_schema,
    input_data,
    list_schema,
    problem_with_current,
    problems_with_safety,
    request_patient,
)
from backend.errors import ProblemError
from backend.idempotency import (
    IDEMPOTENCY_KEY_AS_ID_PARAMETER,
    IDEMPOTENCY_KEY_PARAMETER,
    IDEMPOTENT_REPLAYED_HEADER,
    REPLAYED_HEADER,
    RESPONSE_409_IDEMPOTENCY,
    derived_id,
    idempotency_key,
    idempotent,
)
from backend.pagination import (
    MAX_PAGE_SIZE,
    PAGE_QUERY_PARAMETERS,
    cursor_pagination,
)
from backend.problem_codes import ProblemCode
from backend.serializers import BoundedDateTimeField, StrictSerializer
from integration.models import (
    Exercise,
    IntegrationPlan,
    Prompt,
    PromptStatus,
)
from integration.prompts import inbox, selectors
from integration.prompts import timeline as prompts_timeline
from integration.prompts.serializers import (
    DISABLED_STEPS_MAX,
    ENTRY_ANSWER_FIELDS,
    MEASURE_ANSWER_FIELDS,
    ExercisePageSerializer,
    PlanPageSerializer,
    PlanSerializer,
    PromptCompletedSerializer,
    PromptPageSerializer,
    PromptSerializer,
    TimelineSerializer,
    exercise_data,
    prompt_data,
    prompt_response,
    submitted_safety,
    time_field,
)
from journal import instruments
from journal.api import SafetyBlockOnErrorView, text_field, written_at_field
from journal.entries import services
from journal.measures.serializers import AnswerField
from journal.safety import SafetyReason, not_monitored_notice, safety_block

RESPONSE_409_TRANSITION = problem_with_current(
    "`invalid_transition`: the prompt is not in a state that allows this (for example it "
    "was already completed, skipped or has expired); `current` holds it as it is now. "
    "An answer's own `id_conflict` (its entry or measure id taken) carries no `current`. "
    + RESPONSE_409_IDEMPOTENCY,
    "Prompt",
    is_always=False,
)


class PromptConflictMixin:
    """A 409 about a prompt carries the prompt as it is now (`current`); an action taken
    under an Idempotency-Key answers the prompt as it is now when repeated."""

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, inbox.PromptConflictError):
            exc.extra["current"] = prompt_data(exc.prompt)
        return super().handle_exception(exc)  # type: ignore[misc, no-any-return]

    def replay(
        self, request: Request, resource_id: str, status_code: int, prompt_id: uuid.UUID
    ) -> Response:
        prompt = selectors.prompt_get_for_patient(
            patient=request_patient(request), prompt_id=uuid.UUID(resource_id)
        )
        response = prompt_response(prompt)
        response.status_code = status_code
        return response


@extend_schema_view(
    get=list_schema(
        "timeline",
        "exercises_list",
        "The exercise catalog",
        ExercisePageSerializer,
        description="By slug; cursor pages.",
    )
)
class ExerciseListView(PageListView):
    permission_classes = [IsPatient]
    pagination = cursor_pagination("slug", "id")

    def rows(self, request: Request) -> QuerySet[Exercise]:
        return selectors.exercise_list(patient=request_patient(request))

    def render(self, page: list[Exercise]) -> list[Any]:
        return [exercise_data(exercise) for exercise in page]


@extend_schema_view(
    get=list_schema(
        "timeline",
        "plans_list",
        "Integration plans to choose from",
        PlanPageSerializer,
        description=(
            "Each plan's steps in order: an exercise at an offset from a dosing session. The "
            "default plan first; cursor pages."
        ),
    )
)
class PlanListView(PageListView):
    permission_classes = [IsPatient]
    # The default plan first, demonstration plans last (a cursor orders by the first column
    # and steps through ties by offset).
    pagination = cursor_pagination("-is_default", "is_demo", "slug", "id")

    def rows(self, request: Request) -> QuerySet[IntegrationPlan]:
        return selectors.plan_list(patient=request_patient(request))

    def render(self, page: list[IntegrationPlan]) -> list[Any]:
        return list(PlanSerializer(page, many=True).data)


class TimelineView(APIView):
    permission_classes = [IsPatient]

    class UpdateInputSerializer(StrictSerializer):
        """Only the settings to change."""

        plan = serializers.SlugField(required=False, help_text="A slug from GET /plans/.")
        disabled_steps = serializers.ListField(
            child=serializers.UUIDField(),
            required=False,
            max_length=DISABLED_STEPS_MAX,
            help_text="Ids of steps of the (new) plan to switch off; [] switches all on.",
        )
        quiet_start = time_field("HH:MM, local time.", required=False)
        quiet_end = time_field("HH:MM, local time; equal to quiet_start: none.", required=False)
        max_prompts_per_day = serializers.IntegerField(
            required=False,
            min_value=prompts_timeline.MAX_PROMPTS_PER_DAY_LIMITS[0],
            max_value=prompts_timeline.MAX_PROMPTS_PER_DAY_LIMITS[1],
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
        timeline = selectors.timeline_for_patient(patient=request_patient(request))
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
                value={
                    "disabled_steps": [
                        "0b7e2c1a-5d4f-4c8e-9a31-6f2d8e4b7c10",
                        "9f1a3b5c-7d2e-4f60-8a9b-1c3d5e7f9a2b",
                    ],
                    "max_prompts_per_day": 2,
                },
                request_only=True,
            ),
        ],
    )
    def patch(self, request: Request) -> Response:
        patient = request_patient(request)
        data = input_data(request, self.UpdateInputSerializer)
        prompts_timeline.timeline_update(
            patient=patient,
            plan_slug=data.get("plan"),
            disabled_step_ids=data.get("disabled_steps"),
            quiet_start=data.get("quiet_start"),
            quiet_end=data.get("quiet_end"),
            max_prompts_per_day=data.get("max_prompts_per_day"),
        )
        timeline = selectors.timeline_for_patient(patient=patient)
        return Response(TimelineSerializer(timeline).data)


STATUS_PARAMETER = OpenApiParameter(
    "status",
    str,
    many=True,
    explode=True,
    enum=PromptStatus.values,
    description="Only these statuses: repeat the parameter or separate them with commas.",
)


@extend_schema_view(
    get=list_schema(
        "prompts",
        "prompts_list",
        "Your prompt inbox",
        PromptPageSerializer,
        description=(
            "Prompts that are due and still open, and those finished in the last two "
            "weeks; newest due first, cursor pages. A prompt you missed as a notification "
            "is here."
        ),
        parameters=[STATUS_PARAMETER],
    )
)
class PromptListView(PageListView):
    permission_classes = [IsPatient]
    query_parameters = {"get": ("status", *PAGE_QUERY_PARAMETERS)}
    pagination = cursor_pagination("-due_at", "-id")

    class QuerySerializer(StrictSerializer):
        """The inbox's query parameters."""

        status = serializers.ListField(child=serializers.CharField(max_length=200), required=False)
        cursor = serializers.CharField(required=False)
        limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PAGE_SIZE)

    def rows(self, request: Request) -> QuerySet[Prompt]:
        patient = request_patient(request)
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
        return selectors.prompt_list_for_patient(
            patient=patient, now=timezone.now(), statuses=statuses or None
        )

    def render(self, page: list[Prompt]) -> list[Any]:
        # One serializer for the page: one per row would copy its fields each time.
        rows = [prompt_data(prompt) for prompt in page]
        return list(PromptSerializer(rows, many=True).data)


class PromptDetailView(APIView):
    permission_classes = [IsPatient]

    @detail_schema(
        "prompts",
        "One of your prompts",
        OpenApiResponse(PromptSerializer, description="The prompt."),
        description="What a notification's prompt id opens.",
    )
    def get(self, request: Request, prompt_id: uuid.UUID) -> Response:
        prompt = selectors.prompt_get_for_patient(
            patient=request_patient(request), prompt_id=prompt_id
        )
        return prompt_response(prompt)


def prompt_action_schema(
    operation_id: str,
    summary: str,
    description: str,
    ok: OpenApiResponse,
    *,
    request: Any = None,
    examples: list[OpenApiExample] | None = None,
    key: OpenApiParameter = IDEMPOTENCY_KEY_PARAMETER,
    carries_safety: bool = False,
) -> Callable[[Documented], Documented]:
    """The schema of an action on one prompt: taken under an Idempotency-Key (`key`: how
    long it answers), 404 for a prompt not the patient's, 409 (with the prompt in
    `current`) for one in the wrong state (`carries_safety`: its error answers may carry
    the safety block, SafetyBlockOnErrorView)."""
    problems = {(404, PROBLEM): RESPONSE_404, (409, PROBLEM): RESPONSE_409_TRANSITION}
    if carries_safety:
        problems = problems_with_safety(
            400,
            404,
            409,
            500,
            described={404: RESPONSE_404, 409: RESPONSE_409_TRANSITION},
        )
    return extend_schema(
        tags=["prompts"],
        operation_id=operation_id,
        summary=summary,
        parameters=[key, IDEMPOTENT_REPLAYED_HEADER],
        description=description,
        request=request,
        responses={200: ok, **problems},
        examples=examples,
    )


class PromptTransitionView(PromptConflictMixin, APIView):
    """An action that moves the prompt on by one service call (`transition`) and answers
    it as it is then. The subclass takes `post` under its own Idempotency-Key operation."""

    permission_classes = [IsPatient]
    transition: Callable[..., Prompt]

    def post(self, request: Request, prompt_id: uuid.UUID) -> Response:
        prompt = self.transition(patient=request_patient(request), prompt_id=prompt_id)
        return prompt_response(prompt)


@extend_schema_view(
    post=prompt_action_schema(
        "prompts_open",
        "Mark a prompt opened",
        "A sent (or due) prompt becomes opened; opening it again changes nothing.",
        OpenApiResponse(PromptSerializer, description="The prompt, opened."),
    )
)
class PromptOpenView(PromptTransitionView):
    transition = staticmethod(inbox.prompt_open)
    post = idempotent("prompts_open", resource_type="prompt")(PromptTransitionView.post)


@extend_schema_view(
    post=prompt_action_schema(
        "prompts_skip",
        "Skip a prompt",
        "Let this one go: it is not asked again.",
        OpenApiResponse(PromptSerializer, description="The prompt, skipped."),
    )
)
class PromptSkipView(PromptTransitionView):
    transition = staticmethod(inbox.prompt_skip)
    post = idempotent("prompts_skip", resource_type="prompt")(PromptTransitionView.post)


class PromptSnoozeView(PromptConflictMixin, APIView):
    permission_classes = [IsPatient]

    class InputSerializer(StrictSerializer):
        """When to ask again."""

        until = BoundedDateTimeField(
            help_text="When to ask again: in the future and before the prompt expires."
        )

        class Meta:
            ref_name = "PromptSnooze"

    @prompt_action_schema(
        "prompts_snooze",
        "Ask again later",
        "The prompt goes back to scheduled, due at `until`, and is sent again then. "
        "`until` must be in the future and before `expires_at` (400 otherwise).",
        OpenApiResponse(PromptSerializer, description="The prompt, snoozed."),
        request=InputSerializer,
        examples=[
            OpenApiExample(
                "This evening", value={"until": "2025-03-05T19:00:00+01:00"}, request_only=True
            )
        ],
    )
    @idempotent("prompts_snooze", resource_type="prompt")
    def post(self, request: Request, prompt_id: uuid.UUID) -> Response:
        data = input_data(request, self.InputSerializer)
        prompt = inbox.prompt_snooze(
            patient=request_patient(request),
            prompt_id=prompt_id,
            until=data["until"],
        )
        return prompt_response(prompt)


class PromptCompleteView(PromptConflictMixin, SafetyBlockOnErrorView):
    permission_classes = [IsPatient]

    class InputSerializer(StrictSerializer):
        """The answer: a journal entry of the exercise's kind (`body` and the fields beside
        it), or, for a measure prompt, the questionnaire's `answers`."""

        entry_id = serializers.UUIDField(
            required=False,
            help_text="Your own random UUID for the entry, so a repeated complete is safe.",
        )
        title = text_field(services.TITLE_MAX_CHARS, "Stored encrypted.")
        body = text_field(
            services.BODY_MAX_CHARS, "Your answer; stored encrypted. Required for entry prompts."
        )
        tags = serializers.ListField(
            child=serializers.CharField(min_length=1, max_length=services.TAG_MAX_CHARS),
            required=False,
            max_length=services.TAGS_MAX,
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

        written_at = written_at_field()

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

    @prompt_action_schema(
        "prompts_complete",
        "Answer a prompt",
        (
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
        OpenApiResponse(
            PromptCompletedSerializer, description="The prompt, with `entry` or `measure`."
        ),
        request=InputSerializer,
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
        key=IDEMPOTENCY_KEY_AS_ID_PARAMETER,
        carries_safety=True,
    )
    def post(self, request: Request, prompt_id: uuid.UUID) -> Response:
        patient = request_patient(request)
        self.submitted_safety = submitted_safety(request.data, country=patient.country)
        data = dict(input_data(request, self.InputSerializer))
        # An Idempotency-Key here stands for the answer's own client id (`entry_id` or
        # `measure_id`, when not sent): the repeat is then found by opening the stored
        # answer, and no digest of the patient's words is kept anywhere.
        key = idempotency_key(request)
        id_name = "measure_id" if "answers" in data else "entry_id"
        if key is None or data.get(id_name) is not None:
            return self.answer(patient, prompt_id, data)
        data[id_name] = derived_id(request, operation="prompts_complete", key=key, purpose=id_name)
        try:
            return self.answer(patient, prompt_id, data)
        except ProblemError as error:
            if error.problem_code != "id_conflict":
                raise
            current = selectors.prompt_get_for_patient(patient=patient, prompt_id=prompt_id)
            raise ProblemError(
                409,
                ProblemCode.IDEMPOTENCY_KEY_REUSED,
                "This Idempotency-Key was used for a different answer. Use a new key for a "
                "new request; `current` is the prompt as it is now.",
                extra={"current": prompt_data(current)},
            ) from None

    def answer(self, patient: Any, prompt_id: uuid.UUID, data: dict[str, Any]) -> Response:
        values: dict[str, Any] = {
            "measure_result": None,
            "safety": None,
            "notice": not_monitored_notice(country=patient.country),
        }
        if "answers" in data:
            answered = inbox.prompt_complete_measure(
                patient=patient,
                prompt_id=prompt_id,
                answers=data["answers"],
                difficulty=data.get("difficulty"),
                measure_id=data.get("measure_id"),
                written_at=data.get("written_at"),
            )
            prompt, measure, is_repeat = answered.prompt, answered.measure, answered.is_repeat
            values |= {"measure_result": measure, "late": answered.is_late, "answer": measure.pk}
            if instruments.needs_safety_response(measure.instrument, measure.answers):
                values["safety"] = safety_block(SafetyReason.PHQ9_ITEM9, country=patient.country)
        else:
            written = inbox.prompt_complete(
                patient=patient,
                prompt_id=prompt_id,
                body=data["body"],
                title=data.get("title", ""),
                tags=data.get("tags", ()),
                mood=data.get("mood"),
                entry_id=data.get("entry_id"),
                written_at=data.get("written_at"),
            )
            prompt, is_repeat = written.prompt, written.is_repeat
            values |= {"late": written.is_late, "answer": written.entry.pk}
        response = Response(PromptCompletedSerializer(prompt_data(prompt) | values).data)
        if is_repeat:
            response[REPLAYED_HEADER] = "true"
        return response
