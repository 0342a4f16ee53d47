"""The patient's treatment sessions (/api/v1/sessions/).

Every single-record response carries `notice`: the journal is not monitored in real time
(`journal.safety`).
"""

from __future__ import annotations

import uuid
from functools import partial

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.permissions import IsPatient
from backend.api import PROBLEM, request_patient
from backend.idempotency import IDEMPOTENCY_KEY_PARAMETER, IDEMPOTENT_REPLAYED_HEADER
from backend.query import query_names
from backend.serializers import BoundedDateTimeField, EnumField, StrictSerializer
from journal.api import (
    ETAG_HEADER,
    IF_MATCH_DELETE,
    IF_MATCH_REQUIRED,
    RESPONSE_409,
    RESPONSE_410,
    RESPONSE_412_SESSION,
    RESPONSE_428,
    create_with_key,
    created_or_repeated,
    delete_record,
    patch_record,
    record_response,
    text_field,
    version_field,
    written_at_field,
)
from journal.keys import sealer_for
from journal.models import (
    Modality,
    SessionKind,
    SessionStatus,
    Setting,
)
from journal.pagination import (
    SessionPagination,
)
from journal.sessions import selectors, services
from journal.sessions.serializers import (
    AfterEffectsSerializer,
    SessionFilterSerializer,
    SessionPageSerializer,
    SessionRecordSerializer,
    session_data,
    session_record,
)

SESSION_EXAMPLE_CREATE = {
    "id": "6f1c2b0e-5d7a-4c1b-9a51-0d2f1e7c9b10",
    "kind": "dosing",
    "modality": "esketamine_nasal",
    "setting": "clinic",
    "scheduled_start": "2025-03-04T09:30:00+01:00",
    "note": "Bring headphones and the playlist.",
}


class SessionCollectionView(APIView):
    permission_classes = [IsPatient]
    query_parameters = {"get": query_names(SessionFilterSerializer)}

    class InputSerializer(StrictSerializer):
        """A new treatment session. Unknown fields answer 400."""

        id = serializers.UUIDField(
            required=False, help_text="Your own random UUID, so a repeated create is safe."
        )
        kind = EnumField(SessionKind)
        modality = EnumField(
            Modality,
            required=False,
            allow_blank=True,
            allow_null=True,
            help_text="Required for a dosing session; empty otherwise.",
        )
        setting = EnumField(
            Setting,
            required=False,
            allow_blank=True,
            allow_null=True,
            help_text="Dosing sessions only.",
        )
        scheduled_start = BoundedDateTimeField()
        actual_start = BoundedDateTimeField(required=False, allow_null=True)
        actual_end = BoundedDateTimeField(
            required=False, allow_null=True, help_text="After `actual_start`."
        )
        status = EnumField(SessionStatus, required=False)
        note = text_field(services.NOTE_MAX_CHARS, "Private text, stored encrypted.")
        after_effects = AfterEffectsSerializer(
            required=False, allow_null=True, help_text="A completed dosing session only."
        )
        overall_rating = serializers.IntegerField(
            required=False,
            allow_null=True,
            min_value=0,
            max_value=10,
            help_text="A completed dosing session only.",
        )

        written_at = written_at_field()

        class Meta:
            ref_name = "SessionCreate"

    @extend_schema(
        tags=["sessions"],
        operation_id="sessions_list",
        summary="List your treatment sessions",
        description="By scheduled start, earliest first; cursor pages.",
        parameters=[SessionFilterSerializer],
        responses={200: OpenApiResponse(SessionPageSerializer, description="A page.")},
    )
    def get(self, request: Request) -> Response:
        patient = request_patient(request)
        filters = SessionFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        sessions = selectors.session_list_for_patient(
            patient=patient, filters=filters.validated_data
        )
        paginator = SessionPagination()
        page = paginator.paginate_queryset(sessions, request, view=self) or []
        sealer = sealer_for(patient)
        return paginator.get_paginated_response([session_data(row, sealer) for row in page])

    @extend_schema(
        tags=["sessions"],
        summary="Add a treatment session",
        description=(
            "Send your own random UUID as `id` when working offline: repeating the same "
            "create answers 200 with the existing session instead of making a second one."
        ),
        request=InputSerializer,
        parameters=[ETAG_HEADER, IDEMPOTENCY_KEY_PARAMETER, IDEMPOTENT_REPLAYED_HEADER],
        responses={
            201: OpenApiResponse(SessionRecordSerializer, description="Created."),
            200: OpenApiResponse(SessionRecordSerializer, description="A repeated create."),
            (409, PROBLEM): RESPONSE_409,
        },
        examples=[
            OpenApiExample("Dosing session", value=SESSION_EXAMPLE_CREATE, request_only=True),
            OpenApiExample(
                "Integration session",
                value={"kind": "integration", "scheduled_start": "2025-03-05T16:00:00Z"},
                request_only=True,
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        patient = request_patient(request)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        sealer = sealer_for(patient)
        data = dict(serializer.validated_data)

        def create() -> Response:
            created = services.session_create(patient=patient, sealer=sealer, **data)
            return created_or_repeated(
                created, session_record(created.record, sealer, patient=patient)
            )

        return create_with_key(
            request,
            data,
            operation="sessions_create",
            create=create,
            current=lambda session_id: session_record(
                selectors.session_get_for_patient(patient=patient, session_id=session_id),
                sealer,
                patient=patient,
            ),
        )


class SessionDetailView(APIView):
    permission_classes = [IsPatient]

    class UpdateInputSerializer(StrictSerializer):
        """The fields to change, and the version changed. Unknown fields answer 400."""

        kind = EnumField(SessionKind, required=False)
        modality = EnumField(Modality, required=False, allow_blank=True, allow_null=True)
        setting = EnumField(Setting, required=False, allow_blank=True, allow_null=True)
        scheduled_start = BoundedDateTimeField(required=False)
        actual_start = BoundedDateTimeField(required=False, allow_null=True)
        actual_end = BoundedDateTimeField(required=False, allow_null=True)
        status = EnumField(SessionStatus, required=False)
        note = text_field(services.NOTE_MAX_CHARS, "Private text, stored encrypted.")
        after_effects = AfterEffectsSerializer(required=False, allow_null=True)
        overall_rating = serializers.IntegerField(
            required=False, allow_null=True, min_value=0, max_value=10
        )
        version = version_field()

        written_at = written_at_field()

        class Meta:
            ref_name = "SessionUpdate"

    @extend_schema(
        tags=["sessions"],
        summary="Get one of your treatment sessions",
        parameters=[ETAG_HEADER],
        responses={
            200: OpenApiResponse(SessionRecordSerializer, description="The session."),
            (410, PROBLEM): RESPONSE_410,
        },
    )
    def get(self, request: Request, session_id: uuid.UUID) -> Response:
        patient = request_patient(request)
        session = selectors.session_get_for_patient(patient=patient, session_id=session_id)
        return record_response(session_record(session, sealer_for(patient), patient=patient))

    @extend_schema(
        tags=["sessions"],
        summary="Change a treatment session",
        description=(
            "Send only the fields to change, with the version you read (If-Match or "
            "`version`). After a dosing session, mark it `completed` and record "
            "`after_effects` and `overall_rating`."
        ),
        request=UpdateInputSerializer,
        parameters=[IF_MATCH_REQUIRED, ETAG_HEADER],
        responses={
            200: OpenApiResponse(SessionRecordSerializer, description="The changed session."),
            (410, PROBLEM): RESPONSE_410,
            (412, PROBLEM): RESPONSE_412_SESSION,
            (428, PROBLEM): RESPONSE_428,
        },
        examples=[
            OpenApiExample(
                "After the dosing session",
                value={
                    "version": 1,
                    "status": "completed",
                    "actual_start": "2025-03-04T09:40:00+01:00",
                    "actual_end": "2025-03-04T11:55:00+01:00",
                    "after_effects": {
                        "dissociation": "moderate",
                        "nausea": "mild",
                        "dizziness": "mild",
                        "headache": "none",
                        "raised_blood_pressure": "mild",
                        "anxiety": "none",
                    },
                    "overall_rating": 7,
                },
                request_only=True,
            )
        ],
    )
    def patch(self, request: Request, session_id: uuid.UUID) -> Response:
        return patch_record(
            request,
            self.UpdateInputSerializer,
            update=partial(services.session_update, session_id=session_id),
            data_of=session_data,
            record_of=session_record,
        )

    @extend_schema(
        tags=["sessions"],
        summary="Delete a treatment session",
        description=(
            "Leaves a tombstone that sync reports as deleted; the session then answers 410 `gone`, "
            "and a repeated delete answers 204 again. Entries linked to it keep the link."
        ),
        parameters=[IF_MATCH_DELETE],
        responses={
            204: OpenApiResponse(description="Deleted."),
            (412, PROBLEM): RESPONSE_412_SESSION,
            (428, PROBLEM): RESPONSE_428,
        },
    )
    def delete(self, request: Request, session_id: uuid.UUID) -> Response:
        return delete_record(
            request,
            delete=partial(services.session_delete, session_id=session_id),
            data_of=session_data,
        )
