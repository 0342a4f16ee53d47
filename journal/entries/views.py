"""The patient's journal entries (/api/v1/entries/) and a session's journal
(/api/v1/sessions/{id}/journal/).
"""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.permissions import IsPatient
from backend.api import PROBLEM, request_patient
from backend.query import query_names
from backend.serializers import EnumField, StrictSerializer
from journal.api import (
    RESPONSE_410,
    RESPONSE_412_ENTRY,
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
from journal.entries import selectors, services
from journal.entries.serializers import (
    EntryFilterSerializer,
    EntryOutputSerializer,
    EntryPageSerializer,
    EntryRecordSerializer,
    entries_data,
    entry_data,
    tags_field,
)
from journal.keys import sealer_for
from journal.models import (
    EntryKind,
)
from journal.pagination import (
    EntryPagination,
)
from journal.sessions import selectors as sessions_selectors
from journal.sessions.serializers import SessionOutputSerializer


class SessionJournalView(APIView):
    permission_classes = [IsPatient]

    class OutputSerializer(serializers.Serializer[Any]):
        session = SessionOutputSerializer()
        intentions = EntryOutputSerializer(many=True)
        reflections = EntryOutputSerializer(many=True)
        other_entries = EntryOutputSerializer(many=True)

        class Meta:
            ref_name = "SessionJournal"

    @extend_schema(
        tags=["sessions"],
        summary="A session with the entries written around it",
        description=(
            "The intentions set before a dosing session and the reflections after it (each "
            "with the intentions it looks back on), then the other entries linked to the "
            "session; live entries only, oldest first."
        ),
        responses={
            200: OpenApiResponse(OutputSerializer, description="The session journal."),
            (410, PROBLEM): RESPONSE_410,
        },
    )
    def get(self, request: Request, session_id: uuid.UUID) -> Response:
        patient = request_patient(request)
        journal = selectors.session_journal_for_patient(patient=patient, session_id=session_id)
        sealer = sealer_for(patient)
        opened = {
            "session": sessions_selectors.open_session(journal.session, sealer=sealer),
            "intentions": [selectors.open_entry(e, sealer=sealer) for e in journal.intentions],
            "reflections": [selectors.open_entry(e, sealer=sealer) for e in journal.reflections],
            "other_entries": [
                selectors.open_entry(e, sealer=sealer) for e in journal.other_entries
            ],
        }
        return Response(self.OutputSerializer(opened).data)


class EntryCreateSerializer(StrictSerializer):
    """A new journal entry. Unknown fields answer 400."""

    id = serializers.UUIDField(
        required=False, help_text="Your own random UUID, so a repeated create is safe."
    )
    kind = EnumField(EntryKind)
    session = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text=(
            "One of your sessions. An intention links only to an upcoming dosing "
            "session, a reflection only to one that has taken place."
        ),
    )
    title = text_field(services.TITLE_MAX_CHARS, "Stored encrypted.")
    body = text_field(services.BODY_MAX_CHARS, "Stored encrypted.")
    tags = tags_field()
    mood = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=10)
    intention_ids = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        max_length=services.INTENTIONS_MAX,
        help_text="Reflections only: ids of your intention entries it looks back on.",
    )

    written_at = written_at_field()

    class Meta:
        ref_name = "EntryCreate"


class EntryUpdateSerializer(StrictSerializer):
    """The fields to change, and the version changed. Unknown fields answer 400."""

    kind = EnumField(EntryKind, required=False)
    session = serializers.UUIDField(required=False, allow_null=True)
    title = text_field(services.TITLE_MAX_CHARS, "Stored encrypted.")
    body = text_field(services.BODY_MAX_CHARS, "Stored encrypted.")
    tags = tags_field()
    mood = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=10)
    intention_ids = serializers.ListField(
        child=serializers.UUIDField(), required=False, max_length=services.INTENTIONS_MAX
    )
    version = version_field()

    written_at = written_at_field()

    class Meta:
        ref_name = "EntryUpdate"


ENTRY_LIST = RecordList(
    filters_class=EntryFilterSerializer,
    pagination_class=EntryPagination,
    rows=selectors.entry_list_for_patient,
    page_data=entries_data,
)


ENTRIES = VersionedRecords(
    id_name="entry_id",
    create_operation="entries_create",
    get=selectors.entry_get_for_patient,
    create=services.entry_create,
    update=services.entry_update,
    delete=services.entry_delete,
    data_of=entry_data,
)


@extend_schema_view(
    get=list_schema(
        "entries",
        summary="List your journal entries",
        description="Newest first; cursor pages.",
        filters=EntryFilterSerializer,
        page=EntryPageSerializer,
    ),
    post=create_schema(
        "entries",
        summary="Write a journal entry",
        description=(
            "Title, body and tags are stored encrypted. Send your own random UUID as `id` "
            "when working offline: repeating the same create answers 200 with the existing "
            "entry."
        ),
        request=EntryCreateSerializer,
        record=EntryRecordSerializer,
        examples=[
            OpenApiExample(
                "Intention before a dosing session",
                value={
                    "id": "0b7d4a52-8a8e-4f43-9d3a-3c1f6f2a9e01",
                    "kind": "intention",
                    "session": "6f1c2b0e-5d7a-4c1b-9a51-0d2f1e7c9b10",
                    "title": "What I want to look at",
                    "body": "Why I keep holding back with my brother.",
                    "tags": ["family"],
                    "mood": 5,
                },
                request_only=True,
            ),
            OpenApiExample(
                "Reflection after it",
                value={
                    "kind": "reflection",
                    "session": "6f1c2b0e-5d7a-4c1b-9a51-0d2f1e7c9b10",
                    "title": "The day after",
                    "body": "Felt far away, then very calm.",
                    "intention_ids": ["0b7d4a52-8a8e-4f43-9d3a-3c1f6f2a9e01"],
                    "mood": 7,
                },
                request_only=True,
            ),
        ],
    ),
)
class EntryCollectionView(RecordCollectionView):
    listing = ENTRY_LIST
    records = ENTRIES
    input_serializer = EntryCreateSerializer
    query_parameters = {"get": query_names(EntryFilterSerializer)}


@extend_schema_view(
    get=read_schema(
        "entries",
        summary="Get one of your journal entries",
        record=OpenApiResponse(EntryRecordSerializer, description="The entry."),
        has_tombstone=True,
    ),
    patch=change_schema(
        "entries",
        summary="Change a journal entry",
        description="Send only the fields to change, with the version you read.",
        request=EntryUpdateSerializer,
        record=OpenApiResponse(EntryRecordSerializer, description="The changed entry."),
        conflict=RESPONSE_412_ENTRY,
        examples=[
            OpenApiExample(
                "Add a line",
                value={"version": 2, "body": "Felt far away, then very calm. Slept well."},
                request_only=True,
            )
        ],
    ),
    delete=delete_schema(
        "entries",
        summary="Delete a journal entry",
        description=(
            "Leaves a tombstone that sync reports as deleted; the entry then answers 410 `gone`, "
            "and a repeated delete answers 204 again."
        ),
        conflict=RESPONSE_412_ENTRY,
    ),
)
class EntryDetailView(RecordDetailView):
    records = ENTRIES
    update_serializer = EntryUpdateSerializer
