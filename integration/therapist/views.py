"""The therapist's API under /api/v1/therapist/: reads only (and their invitations). Every
view calls one selector that runs the access check and writes the access event.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import serializers, status
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.permissions import (
    IsTherapist,
)
from backend.api import (
    PROBLEM,
    RESPONSE_404,
    Documented,
    PageListView,
    list_schema,
    problem_openapi,
    request_therapist,
)
from backend.idempotency import (
    IDEMPOTENCY_KEY_PARAMETER,
    IDEMPOTENT_REPLAYED_HEADER,
    idempotent,
    response_409_idempotency,
)
from backend.pagination import PAGE_QUERY_PARAMETERS, cursor_pagination, page_reader
from integration.care import links, selectors
from integration.care.serializers import share_core_values
from integration.courses import selectors as course_selectors
from integration.courses.serializers import SharedCourseSerializer, shared_course_data
from integration.models import CareInvitation, Share
from integration.therapist import measures as therapist_measures
from integration.therapist import selectors as therapist_selectors
from integration.therapist.serializers import (
    InvitationPageSerializer,
    InvitationSerializer,
    LinkedPatientPageSerializer,
    LinkedPatientSerializer,
    NewInvitationSerializer,
    ShareContentSerializer,
    ShareMeasuresSerializer,
    TherapistShareHistoryPageSerializer,
    TherapistShareHistorySerializer,
    TherapistSharePageSerializer,
    TherapistShareSerializer,
    invitation_values,
)


class TherapistView(APIView):
    """Therapist endpoints have no write methods: any other method is 405 whoever asks,
    before authentication, so read-only does not depend on who is signed in."""

    permission_classes = [IsTherapist]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        method = str(request.method).lower()
        if method not in self.http_method_names or not hasattr(self, method):
            raise MethodNotAllowed(method.upper())
        super().initial(request, *args, **kwargs)


RESPONSE_503_AUDIT = problem_openapi(
    "`audit_unavailable`: the read could not be logged, so nothing of it is shown."
)
RESPONSE_404_PATIENT = problem_openapi("Not a patient linked to you.")


class TherapistLoggedListView(TherapistView):
    """A list whose selector logs the rows it shows: it is handed the page reader (`read`),
    so only the page's rows are read and logged; the URL's arguments go to it as well. The
    rows are shown through `output` (`render` adapts them first where they need it)."""

    query_parameters = {"get": PAGE_QUERY_PARAMETERS}
    pagination = cursor_pagination("-created_at", "-id")
    selector: Callable[..., list[Any]]
    output: type[serializers.Serializer[Any]]

    def render(self, rows: list[Any]) -> list[Any]:
        return list(self.output(rows, many=True).data)

    def get(self, request: Request, **kwargs: Any) -> Response:
        paginator, read = page_reader(request, self, self.pagination)
        rows = self.selector(
            therapist=request_therapist(request), request=request, via="api", read=read, **kwargs
        )
        return paginator.get_paginated_response(self.render(rows))


@extend_schema_view(
    get=list_schema(
        "therapist",
        "therapist_invitations_list",
        "Your open invitations (codes are not shown again)",
        InvitationPageSerializer,
    )
)
class TherapistInvitationView(TherapistView, PageListView):
    pagination = cursor_pagination("-created_at", "-id")

    def rows(self, request: Request) -> QuerySet[CareInvitation]:
        return selectors.invitations_for_therapist(therapist=request_therapist(request))

    def render(self, page: list[CareInvitation]) -> list[Any]:
        return list(
            InvitationSerializer([invitation_values(item) for item in page], many=True).data
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
        parameters=[IDEMPOTENCY_KEY_PARAMETER, IDEMPOTENT_REPLAYED_HEADER],
        responses={
            201: OpenApiResponse(NewInvitationSerializer, description="Created."),
            (409, PROBLEM): response_409_idempotency("NewCareInvitation"),
        },
    )
    @idempotent("therapist_invitations_create", resource_type="care_invitation")
    def post(self, request: Request) -> Response:
        created = links.invitation_create(therapist=request_therapist(request))
        values = invitation_values(created.invitation) | {"code": created.code}
        return Response(NewInvitationSerializer(values).data, status=status.HTTP_201_CREATED)

    def replay(self, request: Request, resource_id: str, status_code: int) -> Response:
        # The code was shown once and is kept only as a hash: a repeat answers without it.
        invitation = selectors.invitation_get_for_therapist(
            therapist=request_therapist(request), invitation_id=resource_id
        )
        values = invitation_values(invitation) | {"code": None}
        return Response(NewInvitationSerializer(values).data, status=status_code)


@extend_schema_view(
    get=list_schema(
        "therapist",
        "therapist_patients_list",
        "Your linked patients and their upcoming sessions",
        LinkedPatientPageSerializer,
        description=(
            "Names and the kind and time of upcoming sessions only, by name; cursor pages. "
            "Logged per patient shown."
        ),
        problems={503: RESPONSE_503_AUDIT},
    )
)
class TherapistPatientListView(TherapistLoggedListView):
    pagination = cursor_pagination(*therapist_selectors.LINKED_PATIENT_ORDERING)
    selector = staticmethod(therapist_selectors.linked_patients_for_therapist)
    output = LinkedPatientSerializer


@extend_schema_view(
    get=list_schema(
        "therapist",
        "therapist_patient_shares_list",
        "A linked patient's shares you can read now",
        TherapistSharePageSerializer,
        description="Newest first; cursor pages. Logged for the shares shown.",
        problems={404: RESPONSE_404_PATIENT, 503: RESPONSE_503_AUDIT},
    )
)
class TherapistPatientSharesView(TherapistLoggedListView):
    selector = staticmethod(therapist_selectors.readable_shares_for_patient)
    output = TherapistShareSerializer

    def render(self, rows: list[Share]) -> list[Any]:
        return super().render([share_core_values(share) for share in rows])


@extend_schema_view(
    get=list_schema(
        "therapist",
        "therapist_patient_share_history_list",
        "Every share a linked patient made with you: states and dates, no content",
        TherapistShareHistoryPageSerializer,
        description="Newest first; cursor pages. Logged for the shares shown.",
        problems={404: RESPONSE_404_PATIENT, 503: RESPONSE_503_AUDIT},
    )
)
class TherapistShareHistoryView(TherapistLoggedListView):
    selector = staticmethod(therapist_selectors.share_history_for_therapist)
    output = TherapistShareHistorySerializer


def share_read_schema(
    summary: str, description: str, ok: OpenApiResponse, *, operation_id: str | None = None
) -> Callable[[Documented], Documented]:
    """The schema of a read of one share: the same 404 for every share the therapist may
    not read, and 503 when the read cannot be logged."""
    return extend_schema(
        tags=["therapist"],
        operation_id=operation_id,
        summary=summary,
        description=description,
        responses={200: ok, (404, PROBLEM): RESPONSE_404, (503, PROBLEM): RESPONSE_503_AUDIT},
    )


class TherapistShareReadView(TherapistView):
    """One read of a share, through a selector that runs the access check and logs it,
    shown through `output`."""

    selector: Callable[..., Any]
    output: type[serializers.Serializer[Any]]

    def render(self, content: Any) -> dict[str, Any]:
        return self.output(content).data

    def get(self, request: Request, share_id: uuid.UUID) -> Response:
        content = self.selector(
            therapist=request_therapist(request), share_id=share_id, request=request, via="api"
        )
        return Response(self.render(content))


@extend_schema_view(
    get=share_read_schema(
        "What a share lets you read",
        "The same 404 for a share that does not exist, is another therapist's, was "
        "revoked, has expired or whose care link ended. Each read is logged for the "
        "patient; when it cannot be logged the read is refused with 503.",
        OpenApiResponse(ShareContentSerializer, description="The share's content."),
        operation_id="therapist_shares_retrieve",
    )
)
class TherapistShareContentView(TherapistShareReadView):
    selector = staticmethod(therapist_selectors.share_content_for_therapist)
    output = ShareContentSerializer


@extend_schema_view(
    get=share_read_schema(
        "A share's measures: PHQ-9 and GAD-7 over time",
        "For a share that includes measures: each instrument's scores (time, total, "
        "severity band, change from baseline, response and remission; never the item "
        "answers), its bands and thresholds, and the start times of the patient's "
        "dosing sessions: what the dashboard's charts draw. The same 404 as for any "
        "share you may not read, and for one without measures. Each read is logged for "
        "the patient.",
        OpenApiResponse(ShareMeasuresSerializer, description="The series."),
        operation_id="therapist_shares_measures",
    )
)
class TherapistShareMeasuresView(TherapistShareReadView):
    selector = staticmethod(therapist_measures.share_measures_for_therapist)
    output = ShareMeasuresSerializer


@extend_schema_view(
    get=share_read_schema(
        "The course of a share's dosing session",
        "For a share that names a dosing session of a course: which dosing session of "
        "how many it is, how many have taken place and what comes next (times and "
        "kinds only, never a note). The same 404 as for any share you may not read, "
        "and for one whose session is in no course. Each read is logged for the patient.",
        OpenApiResponse(SharedCourseSerializer, description="The course."),
    )
)
class TherapistShareCourseView(TherapistShareReadView):
    selector = staticmethod(course_selectors.course_for_therapist_share)

    def render(self, content: course_selectors.SharedCourse) -> dict[str, Any]:
        return shared_course_data(content)
