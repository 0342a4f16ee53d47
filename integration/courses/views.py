"""The patient's treatment courses (/api/v1/courses/) and the course templates.

Changes a PATCH cannot say naturally (move, skip, extend, end) are actions under the
course; each answers the course as it is after the change.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.permissions import IsPatient
from backend.api import (
    PROBLEM,
    RESPONSE_404,
    current_on_conflict,
    input_data,
    problem_openapi,
    problem_with_current,
    request_patient,
)
from backend.idempotency import (
    IDEMPOTENCY_KEY_PARAMETER,
    IDEMPOTENT_REPLAYED_HEADER,
    idempotent,
    response_409_idempotency,
)
from backend.pagination import (
    PAGE_PARAMETERS,
    PAGE_QUERY_PARAMETERS,
    cursor_pagination,
    paginated,
)
from backend.serializers import BoundedDateTimeField, EnumField, StrictSerializer
from integration.courses import selectors, services
from integration.courses.models import Weekday
from integration.courses.serializers import (
    CoursePageSerializer,
    CourseSerializer,
    CourseTemplatePageSerializer,
    course_data,
    template_data,
)
from integration.prompts.serializers import time_field
from journal.models import Modality

RESPONSE_400 = problem_openapi(
    "`validation`: see `errors` (unknown template or plan, weekdays the template does not "
    "take, a start in the past, a time not HH:MM, ...)."
)
RESPONSE_409_CREATE = response_409_idempotency(
    "Course",
    "`id_conflict`: the `id` names a course of yours made from a different request "
    "(`current` holds it), or is taken otherwise (no `current`); `course_active`: end your "
    "active course first. ",
)
RESPONSE_409_CHANGE = problem_with_current(
    "`course_ended`: an ended course does not change; `session_not_scheduled`: only a "
    "scheduled session moves or is skipped; `course_not_extendable`: the template has no "
    "maintenance phase. `current` holds the course as it is now.",
    "Course",
)
CHANGE_RESPONSES = {
    200: OpenApiResponse(CourseSerializer, description="The course after the change."),
    (400, PROBLEM): RESPONSE_400,
    (404, PROBLEM): RESPONSE_404,
    (409, PROBLEM): RESPONSE_409_CHANGE,
}
# An action (move, skip, extend, end) repeated after a lost answer would be refused (the
# session is no longer scheduled, the course has ended) or done twice (an extension): under
# an Idempotency-Key the repeat answers the first result.
ACTION_RESPONSES = {
    **CHANGE_RESPONSES,
    (409, PROBLEM): response_409_idempotency(
        "Course",
        "`course_ended`: an ended course does not change; `session_not_scheduled`: only a "
        "scheduled session moves or is skipped; `course_not_extendable`: the template has no "
        "maintenance phase. ",
    ),
}
KEY_PARAMETERS = [IDEMPOTENCY_KEY_PARAMETER, IDEMPOTENT_REPLAYED_HEADER]

F = TypeVar("F", bound=Callable[..., Any])


def course_action_schema(
    summary: str,
    description: str,
    *,
    request: type[serializers.Serializer[Any]] | None = None,
    examples: list[OpenApiExample] | None = None,
) -> Callable[[F], F]:
    """The declaration of one course action: its own summary, description, body and
    examples, with the keyed answers that every action shares."""
    return extend_schema(
        tags=["courses"],
        summary=summary,
        description=description,
        request=request,
        parameters=KEY_PARAMETERS,
        responses=ACTION_RESPONSES,
        examples=examples,
    )


class CourseActionView(APIView):
    """A view whose POST is keyed: a replay answers the course as it is now."""

    permission_classes = [IsPatient]

    def replay(self, request: Request, resource_id: str, status_code: int, **_: Any) -> Response:
        return _answer(request, uuid.UUID(resource_id), status=status_code)


CoursePagination = cursor_pagination("-created_at", "-id")
# A slug is unique: the templates in name order.
TemplatePagination = cursor_pagination("slug")


def _course(request: Request, course_id: uuid.UUID) -> dict[str, Any]:
    patient = request_patient(request)
    course = selectors.course_get_for_patient(patient=patient, course_id=course_id)
    return course_data(course, time_zone=patient.time_zone)


def _answer(request: Request, course_id: uuid.UUID, status: int = 200) -> Response:
    return Response(_course(request, course_id), status=status)


def _change(
    request: Request, course_id: uuid.UUID, change: Callable[..., object], **arguments: Any
) -> Response:
    """Makes one change of the patient's course and answers the course after it; a 409
    carries the course as it is now."""
    with current_on_conflict(lambda: _course(request, course_id)):
        change(patient=request_patient(request), course_id=course_id, **arguments)
    return _answer(request, course_id)


class CourseTemplateListView(APIView):
    permission_classes = [IsPatient]
    query_parameters = {"get": PAGE_QUERY_PARAMETERS}

    @extend_schema(
        tags=["courses"],
        operation_id="course_templates_list",
        summary="Course templates to start a course of",
        description=(
            "The protocols clinics schedule (esketamine induction and maintenance, an IV "
            "series, KAP), each a list of phases: an RFC 5545 recurrence rule of one kind of "
            "session. Clinics add their own."
        ),
        parameters=PAGE_PARAMETERS,
        responses={200: OpenApiResponse(CourseTemplatePageSerializer, description="A page.")},
    )
    def get(self, request: Request) -> Response:
        request_patient(request)
        return paginated(
            request,
            self,
            selectors.template_list(),
            lambda page: [template_data(template) for template in page],
            pagination=TemplatePagination,
        )


class CourseCollectionView(CourseActionView):
    query_parameters = {"get": PAGE_QUERY_PARAMETERS}

    class InputSerializer(StrictSerializer):
        """A new course. Unknown fields answer 400."""

        id = serializers.UUIDField(
            required=False, help_text="Your own random UUID, so a repeated create is safe."
        )
        template = serializers.SlugField(help_text="A slug from GET /api/v1/course-templates/.")
        modality = EnumField(Modality, required=False, help_text="Default: the template's.")
        plan = serializers.SlugField(
            required=False, help_text="An integration plan slug; default: the template's."
        )
        start_date = serializers.DateField(help_text="Today or later, in your time zone.")
        local_time = time_field("HH:MM on your wall clock: every session's start.")
        weekdays = serializers.ListField(
            child=EnumField(Weekday),
            max_length=7,
            help_text="RFC 5545 day codes (MO, TU, WE, TH, FR, SA, SU), as many as the "
            "template asks (esketamine: two).",
        )
        maintenance_interval_weeks = serializers.IntegerField(
            required=False, min_value=1, max_value=2, help_text="Maintenance every 1 or 2 weeks."
        )

        class Meta:
            ref_name = "CourseCreate"

    @extend_schema(
        tags=["courses"],
        operation_id="courses_list",
        summary="List your courses",
        description="Newest first, each with its sessions; cursor pages.",
        parameters=PAGE_PARAMETERS,
        responses={
            200: OpenApiResponse(CoursePageSerializer, description="A page."),
            (400, PROBLEM): problem_openapi("`validation`: a bad cursor or limit."),
        },
    )
    def get(self, request: Request) -> Response:
        patient = request_patient(request)
        return paginated(
            request,
            self,
            selectors.course_list_for_patient(patient=patient),
            lambda page: [course_data(course, time_zone=patient.time_zone) for course in page],
            pagination=CoursePagination,
        )

    @extend_schema(
        tags=["courses"],
        summary="Start a course",
        description=(
            "Makes every session of the template (dosing, and the preparation and "
            "integration sessions it names) on your calendar at `local_time` in your time "
            "zone, on `weekdays`, and makes the course's plan yours; the sessions' prompts "
            "are planned at once. All or nothing. Send your own random UUID as `id`: a "
            "repeated create answers 200 with the course instead of making a second one."
        ),
        request=InputSerializer,
        parameters=KEY_PARAMETERS,
        responses={
            201: OpenApiResponse(CourseSerializer, description="Created."),
            200: OpenApiResponse(CourseSerializer, description="A repeated create."),
            (400, PROBLEM): RESPONSE_400,
            (409, PROBLEM): RESPONSE_409_CREATE,
        },
        examples=[
            OpenApiExample(
                "Esketamine, Mondays and Thursdays at 09:00",
                value={
                    "id": "0b6f6f0e-7c3a-4a8e-9c55-3f1d2e4a5b61",
                    "template": "esketamine-induction-maintenance",
                    "start_date": "2026-03-09",
                    "local_time": "09:00",
                    "weekdays": ["MO", "TH"],
                    "maintenance_interval_weeks": 2,
                },
                request_only=True,
            )
        ],
    )
    @idempotent("courses_create", resource_type="course")
    def post(self, request: Request) -> Response:
        patient = request_patient(request)
        arguments = input_data(request, self.InputSerializer)
        try:
            created = services.course_create(patient=patient, **arguments)
        except services.CourseConflictError as conflict:
            current = selectors.course_get_for_patient(
                patient=patient, course_id=conflict.course.pk
            )
            conflict.extra["current"] = course_data(current, time_zone=patient.time_zone)
            raise
        return _answer(request, created.course.pk, status=201 if created.is_new else 200)


class CourseDetailView(APIView):
    permission_classes = [IsPatient]

    class UpdateInputSerializer(StrictSerializer):
        """What a PATCH changes: the integration plan."""

        plan = serializers.SlugField(help_text="An integration plan slug (GET /api/v1/plans/).")

        class Meta:
            ref_name = "CourseUpdate"

    @extend_schema(
        tags=["courses"],
        summary="Get one of your courses",
        responses={200: OpenApiResponse(CourseSerializer), (404, PROBLEM): RESPONSE_404},
    )
    def get(self, request: Request, course_id: uuid.UUID) -> Response:
        return _answer(request, course_id)

    @extend_schema(
        tags=["courses"],
        summary="Switch a course's integration plan",
        description="The plan becomes yours, and your prompts are planned again.",
        request=UpdateInputSerializer,
        responses=CHANGE_RESPONSES,
        examples=[OpenApiExample("Another plan", value={"plan": "kap-default"}, request_only=True)],
    )
    def patch(self, request: Request, course_id: uuid.UUID) -> Response:
        arguments = input_data(request, self.UpdateInputSerializer)
        return _change(request, course_id, services.course_update, **arguments)


class CourseSessionMoveView(CourseActionView):
    class InputSerializer(StrictSerializer):
        scheduled_start = BoundedDateTimeField(help_text="The session's new start (future).")
        scope = EnumField(
            services.MoveScope,
            required=False,
            help_text="`this` (default): this session only; `following`: it and every later "
            "scheduled session of the course, by the same change of local time.",
        )

        class Meta:
            ref_name = "CourseSessionMove"

    @course_action_schema(
        "Move a session of a course (or it and all later ones)",
        "Prompts move with their sessions, in the same transaction.",
        request=InputSerializer,
        examples=[
            OpenApiExample(
                "A day later, and every later session too",
                value={"scheduled_start": "2026-03-13T09:00:00+01:00", "scope": "following"},
                request_only=True,
            )
        ],
    )
    @idempotent("courses_sessions_move", resource_type="course")
    def post(self, request: Request, course_id: uuid.UUID, session_id: uuid.UUID) -> Response:
        arguments = input_data(request, self.InputSerializer)
        return _change(
            request, course_id, services.course_session_move, session_id=session_id, **arguments
        )


class CourseSessionSkipView(CourseActionView):
    @course_action_schema(
        "Skip a session of a course", "The session is cancelled, and its prompts with it."
    )
    @idempotent("courses_sessions_skip", resource_type="course")
    def post(self, request: Request, course_id: uuid.UUID, session_id: uuid.UUID) -> Response:
        return _change(request, course_id, services.course_session_skip, session_id=session_id)


class CourseExtendView(CourseActionView):
    class InputSerializer(StrictSerializer):
        sessions = serializers.IntegerField(
            min_value=1, max_value=services.MAX_EXTENSION, help_text="How many to add."
        )

        class Meta:
            ref_name = "CourseExtend"

    @course_action_schema(
        "Extend a course's maintenance",
        "Adds dosing sessions after the last maintenance one, in its rhythm.",
        request=InputSerializer,
        examples=[OpenApiExample("Four more", value={"sessions": 4}, request_only=True)],
    )
    @idempotent("courses_extend", resource_type="course")
    def post(self, request: Request, course_id: uuid.UUID) -> Response:
        arguments = input_data(request, self.InputSerializer)
        return _change(request, course_id, services.course_extend, **arguments)


class CourseEndView(CourseActionView):
    @course_action_schema(
        "End a course", "Every session still ahead is cancelled, with its prompts."
    )
    @idempotent("courses_end", resource_type="course")
    def post(self, request: Request, course_id: uuid.UUID) -> Response:
        return _change(request, course_id, services.course_end)
