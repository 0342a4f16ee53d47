"""The therapist's API under /api/v1/therapist/: reads only (and their invitations). Every
view calls one selector that runs the access check and writes the access event.
"""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
)
from rest_framework import status
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.permissions import (
    IsTherapist,
)
from backend.api import PROBLEM, RESPONSE_404, problem_openapi, request_therapist
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
    page_reader,
    paginated,
)
from integration.care import links, selectors
from integration.care.serializers import session_ref
from integration.courses import selectors as course_selectors
from integration.courses.serializers import SharedCourseSerializer, shared_course_data
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


class TherapistInvitationView(TherapistView):
    query_parameters = {"get": PAGE_QUERY_PARAMETERS}
    pagination = cursor_pagination("-created_at", "-id")

    @extend_schema(
        tags=["therapist"],
        operation_id="therapist_invitations_list",
        summary="Your open invitations (codes are not shown again)",
        description="Newest first; cursor pages.",
        parameters=PAGE_PARAMETERS,
        responses={200: OpenApiResponse(InvitationPageSerializer, description="A page.")},
    )
    def get(self, request: Request) -> Response:
        invitations = selectors.invitations_for_therapist(therapist=request_therapist(request))
        return paginated(
            request,
            self,
            invitations,
            lambda page: list(
                InvitationSerializer([invitation_values(item) for item in page], many=True).data
            ),
            pagination=self.pagination,
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


class TherapistPatientListView(TherapistView):
    query_parameters = {"get": PAGE_QUERY_PARAMETERS}
    pagination = cursor_pagination(*therapist_selectors.LINKED_PATIENT_ORDERING)

    @extend_schema(
        tags=["therapist"],
        operation_id="therapist_patients_list",
        summary="Your linked patients and their upcoming sessions",
        description=(
            "Names and the kind and time of upcoming sessions only, by name; cursor pages. "
            "Logged per patient shown."
        ),
        parameters=PAGE_PARAMETERS,
        responses={
            200: OpenApiResponse(LinkedPatientPageSerializer, description="A page."),
            (503, PROBLEM): RESPONSE_503_AUDIT,
        },
    )
    def get(self, request: Request) -> Response:
        paginator, read = page_reader(request, self, self.pagination)
        patients = therapist_selectors.linked_patients_for_therapist(
            therapist=request_therapist(request), request=request, via="api", read=read
        )
        return paginator.get_paginated_response(LinkedPatientSerializer(patients, many=True).data)


class TherapistPatientSharesView(TherapistView):
    query_parameters = {"get": PAGE_QUERY_PARAMETERS}
    pagination = cursor_pagination("-created_at", "-id")

    @extend_schema(
        tags=["therapist"],
        operation_id="therapist_patient_shares_list",
        summary="A linked patient's shares you can read now",
        description="Newest first; cursor pages. Logged for the shares shown.",
        parameters=PAGE_PARAMETERS,
        responses={
            200: OpenApiResponse(TherapistSharePageSerializer, description="A page."),
            (404, PROBLEM): problem_openapi("Not a patient linked to you."),
            (503, PROBLEM): RESPONSE_503_AUDIT,
        },
    )
    def get(self, request: Request, patient_id: uuid.UUID) -> Response:
        paginator, read = page_reader(request, self, self.pagination)
        shares = therapist_selectors.readable_shares_for_patient(
            therapist=request_therapist(request),
            patient_id=patient_id,
            request=request,
            via="api",
            read=read,
        )
        return paginator.get_paginated_response(
            [
                TherapistShareSerializer(
                    {
                        "id": share.id,
                        "created_at": share.created_at,
                        "expires_at": share.expires_at,
                        "dosing_session": session_ref(share.dosing_session),
                        "integration_session": session_ref(share.integration_session),
                        "entry_count": getattr(share, "exposed_entry_count", 0),
                        "include_measures": share.include_measures,
                    }
                ).data
                for share in shares
            ]
        )


class TherapistShareHistoryView(TherapistView):
    query_parameters = {"get": PAGE_QUERY_PARAMETERS}
    pagination = cursor_pagination("-created_at", "-id")

    @extend_schema(
        tags=["therapist"],
        operation_id="therapist_patient_share_history_list",
        summary="Every share a linked patient made with you: states and dates, no content",
        description="Newest first; cursor pages. Logged for the shares shown.",
        parameters=PAGE_PARAMETERS,
        responses={
            200: OpenApiResponse(TherapistShareHistoryPageSerializer, description="A page."),
            (404, PROBLEM): problem_openapi("Not a patient linked to you."),
            (503, PROBLEM): RESPONSE_503_AUDIT,
        },
    )
    def get(self, request: Request, patient_id: uuid.UUID) -> Response:
        paginator, read = page_reader(request, self, self.pagination)
        history = therapist_selectors.share_history_for_therapist(
            therapist=request_therapist(request),
            patient_id=patient_id,
            request=request,
            via="api",
            read=read,
        )
        return paginator.get_paginated_response(
            TherapistShareHistorySerializer(history, many=True).data
        )


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
        content = therapist_selectors.share_content_for_therapist(
            therapist=request_therapist(request), share_id=share_id, request=request, via="api"
        )
        return Response(ShareContentSerializer(content).data)


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
        content = therapist_measures.share_measures_for_therapist(
            therapist=request_therapist(request), share_id=share_id, request=request, via="api"
        )
        return Response(ShareMeasuresSerializer(content).data)


class TherapistShareCourseView(TherapistView):
    @extend_schema(
        tags=["therapist"],
        summary="The course of a share's dosing session",
        description=(
            "For a share that names a dosing session of a course: which dosing session of "
            "how many it is, how many have taken place and what comes next (times and "
            "kinds only, never a note). The same 404 as for any share you may not read, "
            "and for one whose session is in no course. Each read is logged for the patient."
        ),
        responses={
            200: OpenApiResponse(SharedCourseSerializer, description="The course."),
            (404, PROBLEM): RESPONSE_404,
            (503, PROBLEM): RESPONSE_503_AUDIT,
        },
    )
    def get(self, request: Request, share_id: uuid.UUID) -> Response:
        shared = course_selectors.course_for_therapist_share(
            therapist=request_therapist(request), share_id=share_id, request=request, via="api"
        )
        return Response(shared_course_data(shared))
