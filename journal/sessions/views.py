"""The patient's treatment sessions (/api/v1/sessions/).

Every single-record response carries `notice`: the journal is not monitored in real time
(`journal.safety`).
"""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema_view,
)
from rest_framework import serializers

from backend.query import query_names
from backend.serializers import BoundedDateTimeField, EnumField, StrictSerializer
from journal.api import (
    RESPONSE_412_SESSION,
    RecordCollectionView,
    RecordDetailView,
    RecordList,
    VersionedRecords,
    change_schema,
    create_schema,
    delete_schema,
    list_schema,
    read_schema,
    text_field,
    version_field,
    written_at_field,
)
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
)

SESSION_EXAMPLE_CREATE = {
    "id": "6f1c2b0e-5d7a-4c1b-9a51-0d2f1e7c9b10",
    "kind": "dosing",
    "modality": "esketamine_nasal",
    "setting": "clinic",
    "scheduled_start": "2025-03-04T09:30:00+01:00",
    "note": "Bring headphones and the playlist.",
}


class SessionCreateSerializer(StrictSerializer):
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


class SessionUpdateSerializer(StrictSerializer):
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


SESSION_LIST = RecordList(
    filters_class=SessionFilterSerializer,
    pagination_class=SessionPagination,
    rows=selectors.session_list_for_patient,
    page_data=lambda page, sealer: [session_data(row, sealer) for row in page],
)


SESSIONS = VersionedRecords(
    id_name="session_id",
    create_operation="sessions_create",
    get=selectors.session_get_for_patient,
    create=services.session_create,
    update=services.session_update,
    delete=services.session_delete,
    data_of=session_data,
)


@extend_schema_view(
    get=list_schema(
        "sessions",
        summary="List your treatment sessions",
        description="By scheduled start, earliest first; cursor pages.",
        filters=SessionFilterSerializer,
        page=SessionPageSerializer,
    ),
    post=create_schema(
        "sessions",
        summary="Add a treatment session",
        description=(
            "Send your own random UUID as `id` when working offline: repeating the same "
            "create answers 200 with the existing session instead of making a second one."
        ),
        request=SessionCreateSerializer,
        record=SessionRecordSerializer,
        examples=[
            OpenApiExample("Dosing session", value=SESSION_EXAMPLE_CREATE, request_only=True),
            OpenApiExample(
                "Integration session",
                value={"kind": "integration", "scheduled_start": "2025-03-05T16:00:00Z"},
                request_only=True,
            ),
        ],
    ),
)
class SessionCollectionView(RecordCollectionView):
    listing = SESSION_LIST
    records = SESSIONS
    input_serializer = SessionCreateSerializer
    query_parameters = {"get": query_names(SessionFilterSerializer)}


@extend_schema_view(
    get=read_schema(
        "sessions",
        summary="Get one of your treatment sessions",
        record=OpenApiResponse(SessionRecordSerializer, description="The session."),
        has_tombstone=True,
    ),
    patch=change_schema(
        "sessions",
        summary="Change a treatment session",
        description=(
            "Send only the fields to change, with the version you read (If-Match or "
            "`version`). After a dosing session, mark it `completed` and record "
            "`after_effects` and `overall_rating`."
        ),
        request=SessionUpdateSerializer,
        record=OpenApiResponse(SessionRecordSerializer, description="The changed session."),
        conflict=RESPONSE_412_SESSION,
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
    ),
    delete=delete_schema(
        "sessions",
        summary="Delete a treatment session",
        description=(
            "Leaves a tombstone that sync reports as deleted; the session then answers 410 `gone`, "
            "and a repeated delete answers 204 again. Entries linked to it keep the link."
        ),
        conflict=RESPONSE_412_SESSION,
    ),
)
class SessionDetailView(RecordDetailView):
    records = SESSIONS
    update_serializer = SessionUpdateSerializer
