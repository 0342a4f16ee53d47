"""The patient's journal API: treatment sessions, entries, the session journal and sync.

Patients only (`IsPatient`). Views parse, call one service or selector, open the sealed
text with one Sealer per request and serialize. Every single-record response carries
`ETag: "<version>"`; changes take the version back as `If-Match` (or a `version` field)
so that two devices editing offline cannot overwrite each other unseen.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.db.models import TextChoices
from django.http import HttpResponse
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
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
from backend.errors import ProblemError
from backend.serializers import StrictSerializer
from journal import selectors, services
from journal.export import export_markdown
from journal.keys import Sealer, sealer_for
from journal.models import (
    AFTER_EFFECTS,
    Entry,
    EntryKind,
    Modality,
    SessionKind,
    SessionStatus,
    Setting,
    Severity,
    TreatmentSession,
)
from journal.pagination import MAX_PAGE_SIZE, EntryPagination, SessionPagination

PROBLEM = "application/problem+json"
SYNC_DEFAULT_LIMIT = 200
SYNC_MAX_LIMIT = 500
EARLIEST_YEAR = 2000
LATEST_YEAR = 2100


# Fields ---------------------------------------------------------------------------------


class EnumField(serializers.ChoiceField):
    """A choice of a TextChoices enum, named in the schema after the enum (`SessionKind`).

    Its message lists the choices and never repeats the value sent.
    """

    def __init__(self, enum: type[TextChoices], **kwargs: Any) -> None:
        self.enum_name = enum.__name__
        kwargs.setdefault(
            "error_messages",
            {"invalid_choice": "Choose one of: " + ", ".join(enum.values) + "."},
        )
        super().__init__(choices=enum.choices, **kwargs)


class EnumFieldSchema(OpenApiSerializerFieldExtension):  # type: ignore[no-untyped-call]
    """One schema component per enum: `kind` of a session and of an entry are different
    enums under the same field name, which drf-spectacular would otherwise name by hash."""

    target_class = EnumField
    match_subclasses = True

    def get_name(self) -> str | None:
        name: str = self.target.enum_name
        return name

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        return {"type": "string", "enum": list(self.target.choices)}


class BoundedDateTimeField(serializers.DateTimeField):
    """An ISO 8601 time between the years 2000 and 2100 (one without an offset is UTC)."""

    default_error_messages = {
        "out_of_range": f"Give a time between the years {EARLIEST_YEAR} and {LATEST_YEAR}.",
    }

    def to_internal_value(self, value: Any) -> datetime:
        parsed = super().to_internal_value(value)
        if not EARLIEST_YEAR <= parsed.year <= LATEST_YEAR:
            self.fail("out_of_range")
        return parsed


def _text_field(max_length: int, help_text: str) -> serializers.CharField:
    # Taken as written (no trimming). DRF's CharField already refuses NUL characters and
    # lone surrogates (which cannot be stored as UTF-8), without quoting the text.
    return serializers.CharField(
        max_length=max_length,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text=help_text,
    )


def _tags_field() -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(min_length=1, max_length=services.TAG_MAX_CHARS),
        max_length=services.TAGS_MAX,
        required=False,
        help_text=f"Up to {services.TAGS_MAX} tags of 1 to {services.TAG_MAX_CHARS} characters.",
    )


def _version_field() -> serializers.IntegerField:
    return serializers.IntegerField(
        min_value=1,
        required=False,
        help_text='The version you changed; the same as sending `If-Match: "<version>"`.',
    )


# Output ---------------------------------------------------------------------------------


class AfterEffectsSerializer(StrictSerializer):
    """How strong each common acute effect of the dosing session was."""

    dissociation = EnumField(Severity)
    nausea = EnumField(Severity)
    dizziness = EnumField(Severity)
    headache = EnumField(Severity)
    raised_blood_pressure = EnumField(Severity)
    anxiety = EnumField(Severity)

    class Meta:
        ref_name = "AfterEffects"


if tuple(AfterEffectsSerializer._declared_fields) != AFTER_EFFECTS:
    raise ImproperlyConfigured("AfterEffectsSerializer must list journal.models.AFTER_EFFECTS.")


class SessionOutputSerializer(serializers.Serializer[selectors.OpenedSession]):
    id = serializers.UUIDField()
    kind = EnumField(SessionKind)
    modality = EnumField(Modality, allow_null=True, help_text="Dosing sessions only.")
    setting = EnumField(Setting, allow_null=True, help_text="Dosing sessions only.")
    scheduled_start = serializers.DateTimeField()
    actual_start = serializers.DateTimeField(allow_null=True)
    actual_end = serializers.DateTimeField(allow_null=True)
    status = EnumField(SessionStatus)
    note = serializers.CharField(allow_blank=True)
    after_effects = AfterEffectsSerializer(allow_null=True)
    overall_rating = serializers.IntegerField(allow_null=True, min_value=0, max_value=10)
    version = serializers.IntegerField(help_text="Also sent as the ETag.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    class Meta:
        ref_name = "Session"


class EntryOutputSerializer(serializers.Serializer[selectors.OpenedEntry]):
    id = serializers.UUIDField()
    kind = EnumField(EntryKind)
    session = serializers.UUIDField(
        allow_null=True,
        help_text="The linked session. Kept when that session is deleted (it then answers 404).",
    )
    title = serializers.CharField(allow_blank=True)
    body = serializers.CharField(allow_blank=True)
    tags = serializers.ListField(child=serializers.CharField())
    mood = serializers.IntegerField(allow_null=True, min_value=0, max_value=10)
    intention_ids = serializers.ListField(
        child=serializers.UUIDField(),
        help_text="Reflections: the intentions it looks back on (kept if one is deleted).",
    )
    version = serializers.IntegerField(help_text="Also sent as the ETag.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    class Meta:
        ref_name = "Entry"


def _session_data(session: TreatmentSession, sealer: Sealer) -> dict[str, Any]:
    return dict(SessionOutputSerializer(selectors.open_session(session, sealer=sealer)).data)


def _entry_data(entry: Entry, sealer: Sealer) -> dict[str, Any]:
    return dict(EntryOutputSerializer(selectors.open_entry(entry, sealer=sealer)).data)


def _pages_of(
    name: str, item: type[serializers.Serializer[Any]]
) -> type[serializers.Serializer[Any]]:
    class PageSerializer(serializers.Serializer[Any]):
        next = serializers.URLField(allow_null=True, help_text="The next page, if any.")
        previous = serializers.URLField(allow_null=True, help_text="The previous page, if any.")
        results = item(many=True)

        class Meta:
            ref_name = name

    return PageSerializer


SessionPageSerializer = _pages_of("SessionPage", SessionOutputSerializer)
EntryPageSerializer = _pages_of("EntryPage", EntryOutputSerializer)


# Helpers --------------------------------------------------------------------------------


def _patient(request: Request) -> User:
    user = request.user
    if not isinstance(user, User):  # IsPatient has let only patients through
        raise NotAuthenticated()
    return user


def _etag(version: int) -> str:
    return f'"{version}"'


_ENTITY_TAG = re.compile(r'"([0-9]{1,10})"')


def _if_match_versions(header: str) -> frozenset[int] | None:
    """The versions an If-Match header accepts; None for `*` (any current version).

    If-Match compares strongly (RFC 9110, 13.1.1): weak or malformed tags match nothing.
    """
    versions: set[int] = set()
    for tag in header.split(","):
        tag = tag.strip()
        if tag == "*":
            return None
        match = _ENTITY_TAG.fullmatch(tag)
        if match:
            versions.add(int(match.group(1)))
    return frozenset(versions)


def _expected_versions(
    request: Request, body_version: int | None, *, is_required: bool
) -> frozenset[int] | None:
    """The versions the client says it is changing, from If-Match and/or `version`.

    None means any version. A change without either answers 428.
    """
    header = request.headers.get("If-Match")
    if header is None and body_version is None:
        if is_required:
            raise ProblemError(
                428,
                "precondition_required",
                'Send the version you are changing: the header If-Match: "<version>" '
                "(the ETag you read) or a `version` field.",
            )
        return None
    expected = _if_match_versions(header) if header is not None else None
    if body_version is not None:
        expected = frozenset({body_version}) if expected is None else expected & {body_version}
    return expected


WrittenT = TypeVar("WrittenT", TreatmentSession, Entry)


def _write(operation: Callable[[], WrittenT], render: Callable[[Any], dict[str, Any]]) -> WrittenT:
    """Run a versioned write; a stale version answers 412 with the record as it is now."""
    try:
        return operation()
    except services.VersionConflictError as conflict:
        current = conflict.current
        raise ProblemError(
            412,
            "version_conflict",
            "The record changed since the version you sent. `current` is the record as it "
            "is now (its ETag too): apply your change to it and send again.",
            extra={"current": render(current)},
            headers={"ETag": _etag(current.version)},
        ) from None


def _record_response(data: dict[str, Any], *, status_code: int = 200) -> Response:
    return Response(data, status=status_code, headers={"ETag": _etag(data["version"])})


def _problem(description: str) -> OpenApiResponse:
    return OpenApiResponse(
        response={"$ref": "#/components/schemas/Problem"}, description=description
    )


ETAG_HEADER = OpenApiParameter(
    "ETag",
    str,
    OpenApiParameter.HEADER,
    response=[200, 201],
    description='The record\'s version as an entity tag, e.g. "3".',
)
IF_MATCH_REQUIRED = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    description=(
        'The ETag you read, e.g. "3". Required unless the body has `version`; a stale one '
        "answers 412 with the current record."
    ),
)
IF_MATCH_OPTIONAL = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    description='Optional: the ETag you read, e.g. "3"; a stale one answers 412.',
)
RESPONSE_412 = _problem(
    "`version_conflict`: the record changed. `current` holds it as it is now; the ETag "
    "header its version."
)
RESPONSE_428 = _problem('`precondition_required`: send If-Match: "<version>" or `version`.')
RESPONSE_409 = _problem(
    "`id_conflict`: the `id` is taken by a different record (or was deleted). A repeat of "
    "the same create answers 200 instead."
)


def _created_or_repeated(created: services.Created[Any], data: dict[str, Any]) -> Response:
    return _record_response(
        data, status_code=status.HTTP_201_CREATED if created.is_new else status.HTTP_200_OK
    )


# Sessions -------------------------------------------------------------------------------


class SessionFilterSerializer(StrictSerializer):
    kind = EnumField(SessionKind, required=False)
    status = EnumField(SessionStatus, required=False)
    cursor = serializers.CharField(required=False, help_text="From `next` or `previous`.")
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_PAGE_SIZE, help_text="Page size (50)."
    )

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        # `from` is a Python keyword, so these are added here rather than declared.
        fields["from"] = BoundedDateTimeField(
            required=False, source="starts_from", help_text="Scheduled at or after this time."
        )
        fields["to"] = BoundedDateTimeField(
            required=False, source="starts_before", help_text="Scheduled before this time."
        )
        return fields


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
        note = _text_field(services.NOTE_MAX_CHARS, "Private text, stored encrypted.")
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
        patient = _patient(request)
        filters = SessionFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        sessions = selectors.session_list_for_patient(
            patient=patient, filters=filters.validated_data
        )
        paginator = SessionPagination()
        page = paginator.paginate_queryset(sessions, request, view=self) or []
        sealer = sealer_for(patient)
        return paginator.get_paginated_response([_session_data(row, sealer) for row in page])

    @extend_schema(
        tags=["sessions"],
        summary="Add a treatment session",
        description=(
            "Send your own random UUID as `id` when working offline: repeating the same "
            "create answers 200 with the existing session instead of making a second one."
        ),
        request=InputSerializer,
        parameters=[ETAG_HEADER],
        responses={
            201: OpenApiResponse(SessionOutputSerializer, description="Created."),
            200: OpenApiResponse(SessionOutputSerializer, description="A repeated create."),
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
        patient = _patient(request)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        sealer = sealer_for(patient)
        created = services.session_create(
            patient=patient, sealer=sealer, **serializer.validated_data
        )
        return _created_or_repeated(created, _session_data(created.record, sealer))


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
        note = _text_field(services.NOTE_MAX_CHARS, "Private text, stored encrypted.")
        after_effects = AfterEffectsSerializer(required=False, allow_null=True)
        overall_rating = serializers.IntegerField(
            required=False, allow_null=True, min_value=0, max_value=10
        )
        version = _version_field()

        class Meta:
            ref_name = "SessionUpdate"

    @extend_schema(
        tags=["sessions"],
        summary="Get one of your treatment sessions",
        parameters=[ETAG_HEADER],
        responses={200: OpenApiResponse(SessionOutputSerializer, description="The session.")},
    )
    def get(self, request: Request, session_id: uuid.UUID) -> Response:
        patient = _patient(request)
        session = selectors.session_get_for_patient(patient=patient, session_id=session_id)
        return _record_response(_session_data(session, sealer_for(patient)))

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
            200: OpenApiResponse(SessionOutputSerializer, description="The changed session."),
            (412, PROBLEM): RESPONSE_412,
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
        patient = _patient(request)
        serializer = self.UpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        expected = _expected_versions(request, data.pop("version", None), is_required=True)
        sealer = sealer_for(patient)
        session = _write(
            lambda: services.session_update(
                patient=patient,
                session_id=session_id,
                data=data,
                expected_versions=expected,
                sealer=sealer,
            ),
            lambda current: _session_data(current, sealer),
        )
        return _record_response(_session_data(session, sealer))

    @extend_schema(
        tags=["sessions"],
        summary="Delete a treatment session",
        description=(
            "Leaves a tombstone that sync reports as deleted; the session then answers 404. "
            "Entries linked to it keep the link."
        ),
        parameters=[IF_MATCH_OPTIONAL],
        responses={
            204: OpenApiResponse(description="Deleted."),
            (412, PROBLEM): RESPONSE_412,
        },
    )
    def delete(self, request: Request, session_id: uuid.UUID) -> Response:
        patient = _patient(request)
        expected = _expected_versions(request, None, is_required=False)
        session = _write(
            lambda: services.session_delete(
                patient=patient, session_id=session_id, expected_versions=expected
            ),
            lambda current: _session_data(current, sealer_for(patient)),
        )
        return Response(status=status.HTTP_204_NO_CONTENT, headers={"ETag": _etag(session.version)})


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
        responses={200: OpenApiResponse(OutputSerializer, description="The session journal.")},
    )
    def get(self, request: Request, session_id: uuid.UUID) -> Response:
        patient = _patient(request)
        journal = selectors.session_journal_for_patient(patient=patient, session_id=session_id)
        sealer = sealer_for(patient)
        opened = {
            "session": selectors.open_session(journal.session, sealer=sealer),
            "intentions": [selectors.open_entry(e, sealer=sealer) for e in journal.intentions],
            "reflections": [selectors.open_entry(e, sealer=sealer) for e in journal.reflections],
            "other_entries": [
                selectors.open_entry(e, sealer=sealer) for e in journal.other_entries
            ],
        }
        return Response(self.OutputSerializer(opened).data)


# Entries --------------------------------------------------------------------------------


class EntryFilterSerializer(StrictSerializer):
    kind = EnumField(EntryKind, required=False)
    session = serializers.UUIDField(required=False, help_text="Entries linked to this session.")
    created_after = BoundedDateTimeField(required=False)
    created_before = BoundedDateTimeField(required=False)
    cursor = serializers.CharField(required=False, help_text="From `next` or `previous`.")
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_PAGE_SIZE, help_text="Page size (50)."
    )


def _entry_service_data(validated: Mapping[str, Any]) -> dict[str, Any]:
    """Input names to service names: the API's `session` is the service's `session_id`."""
    data = dict(validated)
    if "session" in data:
        data["session_id"] = data.pop("session")
    return data


class EntryCollectionView(APIView):
    permission_classes = [IsPatient]

    class InputSerializer(StrictSerializer):
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
        title = _text_field(services.TITLE_MAX_CHARS, "Stored encrypted.")
        body = _text_field(services.BODY_MAX_CHARS, "Stored encrypted.")
        tags = _tags_field()
        mood = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=10)
        intention_ids = serializers.ListField(
            child=serializers.UUIDField(),
            required=False,
            max_length=services.INTENTIONS_MAX,
            help_text="Reflections only: ids of your intention entries it looks back on.",
        )

        class Meta:
            ref_name = "EntryCreate"

    @extend_schema(
        tags=["entries"],
        operation_id="entries_list",
        summary="List your journal entries",
        description="Newest first; cursor pages.",
        parameters=[EntryFilterSerializer],
        responses={200: OpenApiResponse(EntryPageSerializer, description="A page.")},
    )
    def get(self, request: Request) -> Response:
        patient = _patient(request)
        filters = EntryFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        entries = selectors.entry_list_for_patient(patient=patient, filters=filters.validated_data)
        paginator = EntryPagination()
        page = paginator.paginate_queryset(entries, request, view=self) or []
        sealer = sealer_for(patient)
        return paginator.get_paginated_response([_entry_data(row, sealer) for row in page])

    @extend_schema(
        tags=["entries"],
        summary="Write a journal entry",
        description=(
            "Title, body and tags are stored encrypted. Send your own random UUID as `id` "
            "when working offline: repeating the same create answers 200 with the existing "
            "entry."
        ),
        request=InputSerializer,
        parameters=[ETAG_HEADER],
        responses={
            201: OpenApiResponse(EntryOutputSerializer, description="Created."),
            200: OpenApiResponse(EntryOutputSerializer, description="A repeated create."),
            (409, PROBLEM): RESPONSE_409,
        },
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
    )
    def post(self, request: Request) -> Response:
        patient = _patient(request)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        sealer = sealer_for(patient)
        created = services.entry_create(
            patient=patient, sealer=sealer, **_entry_service_data(serializer.validated_data)
        )
        return _created_or_repeated(created, _entry_data(created.record, sealer))


class EntryDetailView(APIView):
    permission_classes = [IsPatient]

    class UpdateInputSerializer(StrictSerializer):
        """The fields to change, and the version changed. Unknown fields answer 400."""

        kind = EnumField(EntryKind, required=False)
        session = serializers.UUIDField(required=False, allow_null=True)
        title = _text_field(services.TITLE_MAX_CHARS, "Stored encrypted.")
        body = _text_field(services.BODY_MAX_CHARS, "Stored encrypted.")
        tags = _tags_field()
        mood = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=10)
        intention_ids = serializers.ListField(
            child=serializers.UUIDField(), required=False, max_length=services.INTENTIONS_MAX
        )
        version = _version_field()

        class Meta:
            ref_name = "EntryUpdate"

    @extend_schema(
        tags=["entries"],
        summary="Get one of your journal entries",
        parameters=[ETAG_HEADER],
        responses={200: OpenApiResponse(EntryOutputSerializer, description="The entry.")},
    )
    def get(self, request: Request, entry_id: uuid.UUID) -> Response:
        patient = _patient(request)
        entry = selectors.entry_get_for_patient(patient=patient, entry_id=entry_id)
        return _record_response(_entry_data(entry, sealer_for(patient)))

    @extend_schema(
        tags=["entries"],
        summary="Change a journal entry",
        description="Send only the fields to change, with the version you read.",
        request=UpdateInputSerializer,
        parameters=[IF_MATCH_REQUIRED, ETAG_HEADER],
        responses={
            200: OpenApiResponse(EntryOutputSerializer, description="The changed entry."),
            (412, PROBLEM): RESPONSE_412,
            (428, PROBLEM): RESPONSE_428,
        },
        examples=[
            OpenApiExample(
                "Add a line",
                value={"version": 2, "body": "Felt far away, then very calm. Slept well."},
                request_only=True,
            )
        ],
    )
    def patch(self, request: Request, entry_id: uuid.UUID) -> Response:
        patient = _patient(request)
        serializer = self.UpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = _entry_service_data(serializer.validated_data)
        expected = _expected_versions(request, data.pop("version", None), is_required=True)
        sealer = sealer_for(patient)
        entry = _write(
            lambda: services.entry_update(
                patient=patient,
                entry_id=entry_id,
                data=data,
                expected_versions=expected,
                sealer=sealer,
            ),
            lambda current: _entry_data(current, sealer),
        )
        return _record_response(_entry_data(entry, sealer))

    @extend_schema(
        tags=["entries"],
        summary="Delete a journal entry",
        description="Leaves a tombstone that sync reports as deleted; the entry then answers 404.",
        parameters=[IF_MATCH_OPTIONAL],
        responses={
            204: OpenApiResponse(description="Deleted."),
            (412, PROBLEM): RESPONSE_412,
        },
    )
    def delete(self, request: Request, entry_id: uuid.UUID) -> Response:
        patient = _patient(request)
        expected = _expected_versions(request, None, is_required=False)
        entry = _write(
            lambda: services.entry_delete(
                patient=patient, entry_id=entry_id, expected_versions=expected
            ),
            lambda current: _entry_data(current, sealer_for(patient)),
        )
        return Response(status=status.HTTP_204_NO_CONTENT, headers={"ETag": _etag(entry.version)})


# Sync -----------------------------------------------------------------------------------

_CURSOR_PREFIX = "c1."
_CURSOR = re.compile(r"c1\.[A-Za-z0-9_-]{1,32}")
_MAX_CHANGE = 2**63 - 1


def encode_sync_cursor(change: int) -> str:
    """An opaque cursor: clients store it and send it back, and must not build one."""
    return _CURSOR_PREFIX + base64.urlsafe_b64encode(str(change).encode()).decode().rstrip("=")


def decode_sync_cursor(cursor: str) -> int:
    bad = ValidationError({"since": ["Not a cursor from this API: send the last `cursor`."]})
    if not _CURSOR.fullmatch(cursor):
        raise bad
    body = cursor.removeprefix(_CURSOR_PREFIX)
    try:
        text = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        raise bad from None
    if not text.isdigit() or int(text) > _MAX_CHANGE:
        raise bad
    return int(text)


@extend_schema_field(
    PolymorphicProxySerializer(
        component_name="SyncRecord",
        serializers=[SessionOutputSerializer, EntryOutputSerializer],
        resource_type_field_name=None,
    )
)
class SyncRecordField(serializers.Field):  # type: ignore[type-arg]
    """The record as GET of it answers: a Session or an Entry; null for a deletion."""

    def to_representation(self, value: dict[str, Any]) -> dict[str, Any]:
        return value


class SyncRecordType(TextChoices):
    SESSION = "session", "Treatment session"
    ENTRY = "entry", "Journal entry"


class SyncChangeSerializer(serializers.Serializer[Any]):
    type = EnumField(SyncRecordType)
    id = serializers.UUIDField()
    change = serializers.IntegerField(help_text="Increases with every change you make.")
    deleted = serializers.BooleanField()
    # A field named like Serializer.data: DRF takes declared fields off the class.
    data = SyncRecordField(allow_null=True)  # type: ignore[assignment]

    class Meta:
        ref_name = "SyncChange"


class SyncPageSerializer(serializers.Serializer[Any]):
    changes = SyncChangeSerializer(many=True)
    cursor = serializers.CharField(help_text="Send as `since` next time.")
    has_more = serializers.BooleanField(help_text="True: sync again now with `cursor`.")

    class Meta:
        ref_name = "SyncPage"


class SyncView(APIView):
    permission_classes = [IsPatient]

    class QuerySerializer(StrictSerializer):
        since = serializers.CharField(
            required=False,
            max_length=64,
            help_text="The `cursor` of your last sync; leave out for everything.",
        )
        limit = serializers.IntegerField(
            required=False,
            min_value=1,
            max_value=SYNC_MAX_LIMIT,
            default=SYNC_DEFAULT_LIMIT,
            help_text=f"At most this many changes ({SYNC_DEFAULT_LIMIT}).",
        )

    @extend_schema(
        tags=["sync"],
        summary="Everything that changed since your last sync",
        description=(
            "Your sessions and entries, deletions included, in the order they changed. "
            "Store `cursor` and send it as `since` next time; while `has_more` is true, "
            "ask again at once. A change that is still being saved is never passed over: "
            "changes are reported only once every earlier one has been saved."
        ),
        parameters=[QuerySerializer],
        responses={200: OpenApiResponse(SyncPageSerializer, description="A page of changes.")},
    )
    def get(self, request: Request) -> Response:
        patient = _patient(request)
        query = self.QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        since = query.validated_data.get("since")
        page = selectors.sync_changes_for_patient(
            patient=patient,
            since=decode_sync_cursor(since) if since is not None else 0,
            limit=query.validated_data["limit"],
        )
        sealer = sealer_for(patient)
        changes: list[dict[str, Any]] = []
        for item in page.changes:
            data: dict[str, Any] | None
            if item.is_deleted:
                data = None
            elif isinstance(item.record, TreatmentSession):
                data = _session_data(item.record, sealer)
            else:
                data = _entry_data(item.record, sealer)
            changes.append(
                {
                    "type": item.type,
                    "id": item.record.pk,
                    "change": item.change,
                    "deleted": item.is_deleted,
                    "data": data,
                }
            )
        body = {
            "changes": changes,
            "cursor": encode_sync_cursor(page.last_change),
            "has_more": page.has_more,
        }
        return Response(SyncPageSerializer(body).data)


# Export ---------------------------------------------------------------------------------


class ExportView(APIView):
    permission_classes = [IsPatient]

    class OutputSerializer(serializers.Serializer[Any]):
        format = serializers.CharField(help_text="Always 'afterglow-journal-export'.")
        format_version = serializers.IntegerField()
        exported_at = serializers.DateTimeField()
        account = serializers.DictField(child=serializers.CharField())
        sessions = SessionOutputSerializer(many=True)
        entries = EntryOutputSerializer(many=True)

        class Meta:
            ref_name = "JournalExport"

    @extend_schema(
        tags=["me"],
        summary="Export everything you recorded, decrypted",
        description=(
            "Your account details, sessions and entries, decrypted, as one JSON document. "
            "`?format=markdown` answers a readable Markdown version (text/markdown) to keep "
            "or bring to a session. The file is not encrypted: keep it somewhere safe."
        ),
        parameters=[
            OpenApiParameter(
                "format",
                str,
                OpenApiParameter.QUERY,
                enum=["json", "markdown"],
                description="json (default) or markdown.",
            )
        ],
        responses={
            (200, "application/json"): OpenApiResponse(OutputSerializer, description="JSON."),
            (200, "text/markdown"): OpenApiResponse(str, description="Markdown."),
        },
    )
    def get(self, request: Request) -> HttpResponse:
        choice = request.query_params.get("format", "json")
        if choice not in ("json", "markdown"):
            raise ValidationError({"format": ["Choose json or markdown."]})
        patient = _patient(request)
        export = selectors.journal_export_for_patient(patient=patient, sealer=sealer_for(patient))
        filename = f"afterglow-journal-{export.exported_at:%Y-%m-%d}"
        if choice == "markdown":
            return HttpResponse(
                export_markdown(export),
                content_type="text/markdown; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{filename}.md"'},
            )
        data = {
            "format": "afterglow-journal-export",
            "format_version": 1,
            "exported_at": export.exported_at,
            "account": export.account,
            "sessions": export.sessions,
            "entries": export.entries,
        }
        return Response(
            self.OutputSerializer(data).data,
            headers={"Content-Disposition": f'attachment; filename="{filename}.json"'},
        )
