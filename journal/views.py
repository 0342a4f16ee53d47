"""The patient's journal API: treatment sessions, entries, measures, the session journal,
sync and export.

Patients only (`IsPatient`). Views parse, call one service or selector, open the sealed
text with one Sealer per request and serialize. Every single-record response carries
`ETag: "<version>"`; changes take the version back as `If-Match` (or a `version` field)
so that two devices editing offline cannot overwrite each other unseen.

Every single-record response of an endpoint that accepts free text (sessions and entries)
carries `notice`: the journal is not monitored in real time (`journal.safety`).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from functools import cache
from typing import Any, TypeVar, cast

from django.core.exceptions import ImproperlyConfigured
from django.db.models import TextChoices
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.types import OpenApiTypes
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
from backend.errors import PROBLEM_CONTENT_TYPE, ProblemError, problem
from backend.middleware import log_unhandled_exception
from backend.serializers import StrictSerializer
from journal import fhir, measures, selectors, services
from journal.export import export_markdown
from journal.keys import Sealer, sealer_for
from journal.measure_items import open_measure, open_measures
from journal.measures import Band, Instrument
from journal.models import (
    AFTER_EFFECTS,
    Entry,
    EntryKind,
    Measure,
    Modality,
    SessionKind,
    SessionStatus,
    Setting,
    Severity,
    TreatmentSession,
)
from journal.pagination import (
    MAX_PAGE_SIZE,
    EntryPagination,
    MeasurePagination,
    SessionPagination,
)
from journal.safety import NOT_MONITORED_NOTICE, CrisisAction, SafetyReason, safety_block

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


# Versions are stored as a PostgreSQL integer: a larger one can name no version.
MAX_VERSION = 2**31 - 1


def _version_field() -> serializers.IntegerField:
    return serializers.IntegerField(
        min_value=1,
        max_value=MAX_VERSION,
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


@extend_schema_field(
    {
        "type": "string",
        "readOnly": True,
        "description": "Always the same text: the journal is not monitored in real time.",
        "example": NOT_MONITORED_NOTICE,
    }
)
class NoticeField(serializers.Field):  # type: ignore[type-arg]
    """The not-monitored notice (`journal.safety.NOT_MONITORED_NOTICE`), whatever the
    record: endpoints that accept free text say in every response that nobody reads it
    in real time."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["source"] = "*"
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> str:
        return NOT_MONITORED_NOTICE


class SessionRecordSerializer(SessionOutputSerializer):
    """A session as a create, change or read of it answers: with the notice."""

    notice = NoticeField()

    class Meta:
        ref_name = "SessionRecord"


class EntryRecordSerializer(EntryOutputSerializer):
    """An entry as a create, change or read of it answers: with the notice."""

    notice = NoticeField()

    class Meta:
        ref_name = "EntryRecord"


@cache
def _renderer(serializer_class: type[serializers.Serializer[Any]]) -> serializers.Serializer[Any]:
    """One instance of an output serializer per process, its fields bound once: a new
    instance per record would deep-copy every field each time. Output serializers hold no
    state between calls to `to_representation`."""
    return serializer_class()


def _represent(serializer_class: type[serializers.Serializer[Any]], record: Any) -> dict[str, Any]:
    return dict(_renderer(serializer_class).to_representation(record))


def _session_data(session: TreatmentSession, sealer: Sealer) -> dict[str, Any]:
    return _represent(SessionOutputSerializer, selectors.open_session(session, sealer=sealer))


def _entry_data(entry: Entry, sealer: Sealer) -> dict[str, Any]:
    return _represent(EntryOutputSerializer, selectors.open_entry(entry, sealer=sealer))


def _entries_data(entries: Iterable[Entry], sealer: Sealer) -> list[dict[str, Any]]:
    """A page of entries through one serializer (one per row would copy its fields each
    time: most of a page's cost)."""
    opened = [selectors.open_entry(entry, sealer=sealer) for entry in entries]
    return list(EntryOutputSerializer(cast(Any, opened), many=True).data)


def _session_record(session: TreatmentSession, sealer: Sealer) -> dict[str, Any]:
    return _represent(SessionRecordSerializer, selectors.open_session(session, sealer=sealer))


def _entry_record(entry: Entry, sealer: Sealer) -> dict[str, Any]:
    return _represent(EntryRecordSerializer, selectors.open_entry(entry, sealer=sealer))


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
        patient = _patient(request)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        sealer = sealer_for(patient)
        created = services.session_create(
            patient=patient, sealer=sealer, **serializer.validated_data
        )
        return _created_or_repeated(created, _session_record(created.record, sealer))


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
        responses={200: OpenApiResponse(SessionRecordSerializer, description="The session.")},
    )
    def get(self, request: Request, session_id: uuid.UUID) -> Response:
        patient = _patient(request)
        session = selectors.session_get_for_patient(patient=patient, session_id=session_id)
        return _record_response(_session_record(session, sealer_for(patient)))

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
        return _record_response(_session_record(session, sealer))

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
        return paginator.get_paginated_response(_entries_data(page, sealer))

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
            201: OpenApiResponse(EntryRecordSerializer, description="Created."),
            200: OpenApiResponse(EntryRecordSerializer, description="A repeated create."),
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
        return _created_or_repeated(created, _entry_record(created.record, sealer))


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
        responses={200: OpenApiResponse(EntryRecordSerializer, description="The entry.")},
    )
    def get(self, request: Request, entry_id: uuid.UUID) -> Response:
        patient = _patient(request)
        entry = selectors.entry_get_for_patient(patient=patient, entry_id=entry_id)
        return _record_response(_entry_record(entry, sealer_for(patient)))

    @extend_schema(
        tags=["entries"],
        summary="Change a journal entry",
        description="Send only the fields to change, with the version you read.",
        request=UpdateInputSerializer,
        parameters=[IF_MATCH_REQUIRED, ETAG_HEADER],
        responses={
            200: OpenApiResponse(EntryRecordSerializer, description="The changed entry."),
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
        return _record_response(_entry_record(entry, sealer))

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


# Measures -------------------------------------------------------------------------------


@extend_schema_field({"type": "integer", "minimum": 0, "maximum": 3})
class AnswerField(serializers.Field):  # type: ignore[type-arg]
    """One item's answer, passed on as sent: `journal.measures.validate` checks every item
    at once, so that a 400 names each bad one in the instrument's words."""

    def validate_empty_values(self, data: Any) -> tuple[bool, Any]:
        if data is None:
            return False, None  # a null answer is a bad answer, said in the item's words
        return super().validate_empty_values(data)

    def to_internal_value(self, data: Any) -> Any:
        return data

    def to_representation(self, value: Any) -> Any:
        return value


class CrisisResourceSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    action = EnumField(CrisisAction, help_text="How to reach it: call, text, or either.")
    contact = serializers.CharField(help_text="The number to call or text.")
    instructions = serializers.CharField(help_text="What to do, in a sentence.")

    class Meta:
        ref_name = "CrisisResource"


class SafetySerializer(serializers.Serializer[Any]):
    reason = EnumField(SafetyReason)
    message = serializers.CharField(help_text="Show this to the person, with the resources.")
    resources = CrisisResourceSerializer(many=True, help_text="Crisis lines of the country.")
    not_monitored = serializers.CharField(help_text="The journal is not monitored.")

    class Meta:
        ref_name = "Safety"


class MeasureOutputSerializer(serializers.Serializer[Measure]):
    id = serializers.UUIDField()
    instrument = EnumField(Instrument)
    answers = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=3),
        help_text="Item answers in the printed order of the items, each 0 to 3.",
    )
    difficulty = serializers.IntegerField(
        allow_null=True, min_value=0, max_value=3, help_text="PHQ-9 only; not scored."
    )
    total = serializers.IntegerField(min_value=0, max_value=27)
    band = EnumField(Band, help_text="The severity band of the total.")
    session = serializers.UUIDField(source="session_id", allow_null=True)
    taken_at = serializers.DateTimeField()
    version = serializers.IntegerField(help_text="Also sent as the ETag.")
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "Measure"


class MeasureCreatedSerializer(MeasureOutputSerializer):
    safety = SafetySerializer(
        allow_null=True,
        help_text=(
            "Present when PHQ-9 item 9 (thoughts of being better off dead or of hurting "
            "yourself) is above 0: show its message and crisis resources at once. Also "
            "added to an error answering such a submission. Null otherwise."
        ),
    )

    class Meta:
        ref_name = "MeasureCreated"


def _measure_data(measure: Measure) -> dict[str, Any]:
    return dict(MeasureOutputSerializer(measure).data)


MeasurePageSerializer = _pages_of("MeasurePage", MeasureOutputSerializer)


class MeasureFilterSerializer(StrictSerializer):
    instrument = EnumField(Instrument, required=False)
    session = serializers.UUIDField(required=False, help_text="Measures linked to this session.")
    taken_from = BoundedDateTimeField(required=False, help_text="Taken at or after this time.")
    taken_before = BoundedDateTimeField(required=False, help_text="Taken before this time.")
    cursor = serializers.CharField(required=False, help_text="From `next` or `previous`.")
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_PAGE_SIZE, help_text="Page size (50)."
    )


def _submitted_safety(data: Any) -> dict[str, Any] | None:
    """The safety block for a submission that endorses PHQ-9 item 9, read from the raw
    body, so that it comes back even when the measure is refused or fails."""
    if not isinstance(data, Mapping) or data.get("instrument") != Instrument.PHQ9:
        return None
    if not measures.needs_safety_response(Instrument.PHQ9, data.get("answers")):
        return None
    return safety_block(SafetyReason.PHQ9_ITEM9)


MEASURE_EXAMPLE_PHQ9 = {
    "id": "3d0f6f1e-2b8a-4d8e-9a3c-6a1e2f7b9c01",
    "instrument": "phq9",
    "answers": [2, 2, 1, 2, 1, 1, 1, 0, 0],
    "difficulty": 1,
    "session": "6f1c2b0e-5d7a-4c1b-9a51-0d2f1e7c9b10",
    "taken_at": "2025-03-03T18:20:00+01:00",
}


class SafetyBlockOnErrorView(APIView):
    """Base of a view that takes answers which may endorse PHQ-9 item 9: whatever the answer
    (a refusal, a conflict, even a failure), it carries the safety block the submission
    called for, so that an error never hides the crisis resources. The view sets
    `submitted_safety` from the raw body before anything can fail."""

    submitted_safety: dict[str, Any] | None = None

    def handle_exception(self, exc: Exception) -> Response:
        safety = self.submitted_safety
        if safety is None:
            return super().handle_exception(exc)
        try:
            response = super().handle_exception(exc)
        except Exception as uncaught:
            # What ProblemExceptionMiddleware would log and answer, plus the block.
            log_unhandled_exception(self.request._request, uncaught)
            response = Response(problem(500), status=500, content_type=PROBLEM_CONTENT_TYPE)
        if isinstance(response.data, dict):
            response.data["safety"] = safety
        return response


class MeasureCollectionView(SafetyBlockOnErrorView):
    permission_classes = [IsPatient]

    class InputSerializer(StrictSerializer):
        """A completed PHQ-9 or GAD-7. Unknown fields answer 400."""

        id = serializers.UUIDField(
            required=False, help_text="Your own random UUID, so a repeated create is safe."
        )
        instrument = EnumField(Instrument)
        answers = serializers.ListField(
            child=AnswerField(),
            max_length=64,
            help_text=(
                "One answer per item, in the printed order (9 for the PHQ-9, 7 for the "
                "GAD-7): 0 not at all, 1 several days, 2 more than half the days, 3 nearly "
                "every day. A bad item answers 400 with `answers.<index>` (from 0) naming it."
            ),
        )
        difficulty = AnswerField(
            required=False,
            allow_null=True,
            help_text=(
                "PHQ-9 only, optional and not scored: 0 not difficult at all to 3 extremely "
                "difficult."
            ),
        )
        session = serializers.UUIDField(
            required=False, allow_null=True, help_text="One of your sessions, if any."
        )
        taken_at = BoundedDateTimeField(
            required=False, help_text="When it was answered (default: now); not in the future."
        )

        class Meta:
            ref_name = "MeasureCreate"

    @extend_schema(
        tags=["measures"],
        operation_id="measures_list",
        summary="List your measures",
        description="Newest first; cursor pages.",
        parameters=[MeasureFilterSerializer],
        responses={200: OpenApiResponse(MeasurePageSerializer, description="A page.")},
    )
    def get(self, request: Request) -> Response:
        patient = _patient(request)
        filters = MeasureFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        rows = selectors.measure_list_for_patient(patient=patient, filters=filters.validated_data)
        paginator = MeasurePagination()
        page = paginator.paginate_queryset(rows, request, view=self) or []
        page = open_measures(page, sealer=sealer_for(patient))
        return paginator.get_paginated_response([_measure_data(row) for row in page])

    @extend_schema(
        tags=["measures"],
        summary="Record a PHQ-9 or GAD-7",
        description=(
            "Every item is checked and the total and severity band computed on the server. "
            "When PHQ-9 item 9 is above 0 the response carries `safety`: crisis resources "
            "and a message to show at once (also on an error answering such a submission). "
            "Nobody monitors the journal in real time. Send your own random UUID as `id` "
            "when working offline: repeating the same create answers 200."
        ),
        request=InputSerializer,
        parameters=[ETAG_HEADER],
        responses={
            201: OpenApiResponse(MeasureCreatedSerializer, description="Created."),
            200: OpenApiResponse(MeasureCreatedSerializer, description="A repeated create."),
            (409, PROBLEM): RESPONSE_409,
        },
        examples=[
            OpenApiExample("PHQ-9", value=MEASURE_EXAMPLE_PHQ9, request_only=True),
            OpenApiExample(
                "GAD-7",
                value={"instrument": "gad7", "answers": [1, 2, 1, 1, 0, 1, 0]},
                request_only=True,
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        patient = _patient(request)
        self.submitted_safety = _submitted_safety(request.data)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        created = services.measure_create(
            patient=patient, **_entry_service_data(serializer.validated_data)
        )
        measure = created.record
        data = _measure_data(measure)
        data["safety"] = (
            safety_block(SafetyReason.PHQ9_ITEM9)
            if measures.needs_safety_response(measure.instrument, measure.answers)
            else None
        )
        return _created_or_repeated(created, data)


class MeasureDetailView(APIView):
    permission_classes = [IsPatient]

    @extend_schema(
        tags=["measures"],
        summary="Get one of your measures",
        parameters=[ETAG_HEADER],
        responses={200: OpenApiResponse(MeasureOutputSerializer, description="The measure.")},
    )
    def get(self, request: Request, measure_id: uuid.UUID) -> Response:
        patient = _patient(request)
        measure = selectors.measure_get_for_patient(patient=patient, measure_id=measure_id)
        return _record_response(_measure_data(open_measure(measure, sealer=sealer_for(patient))))


class InstrumentOptionSerializer(serializers.Serializer[measures.AnswerOption]):
    value = serializers.IntegerField(help_text="The score of this answer.")
    text = serializers.CharField()
    loinc = serializers.CharField(help_text="LOINC answer code.")

    class Meta:
        ref_name = "InstrumentOption"


class InstrumentItemSerializer(serializers.Serializer[measures.Item]):
    number = serializers.IntegerField(help_text="As printed, from 1; `answers` index + 1.")
    text = serializers.CharField()
    loinc = serializers.CharField(help_text="LOINC question code.")

    class Meta:
        ref_name = "InstrumentItem"


class InstrumentDifficultySerializer(serializers.Serializer[measures.DifficultyQuestion]):
    text = serializers.CharField()
    loinc = serializers.CharField(help_text="LOINC question code.")
    options = InstrumentOptionSerializer(many=True)

    class Meta:
        ref_name = "InstrumentDifficulty"


class InstrumentBandSerializer(serializers.Serializer[measures.SeverityBand]):
    band = EnumField(Band)
    # Fields named like Field attributes: DRF takes declared fields off the class.
    label = serializers.CharField()  # type: ignore[assignment]
    minimum = serializers.IntegerField(help_text="Lowest total in the band.")
    maximum = serializers.IntegerField(help_text="Highest total in the band.")

    class Meta:
        ref_name = "InstrumentBand"


class InstrumentSerializer(serializers.Serializer[measures.InstrumentDefinition]):
    code = EnumField(Instrument, help_text="The `instrument` of a measure.")
    name = serializers.CharField()
    title = serializers.CharField()
    stem = serializers.CharField(help_text="The question the items complete.")
    items = InstrumentItemSerializer(many=True)
    options = InstrumentOptionSerializer(many=True, help_text="The answers of every item.")
    difficulty = InstrumentDifficultySerializer(
        allow_null=True, help_text="The unscored closing question, if the form has one."
    )
    max_total = serializers.IntegerField()
    bands = InstrumentBandSerializer(many=True)
    remission_below = serializers.IntegerField(help_text="Remission: a total below this.")
    safety_item = serializers.IntegerField(
        allow_null=True,
        help_text="The item whose answer above 0 brings the safety block (PHQ-9: 9).",
    )
    loinc_panel = serializers.CharField()
    loinc_panel_display = serializers.CharField()
    loinc_total = serializers.CharField()
    loinc_total_display = serializers.CharField()
    source = serializers.CharField(help_text="The validation study.")  # type: ignore[assignment]
    copyright = serializers.SerializerMethodField()

    class Meta:
        ref_name = "InstrumentDefinition"

    def get_copyright(self, form: measures.InstrumentDefinition) -> str:
        return measures.PFIZER_COPYRIGHT


class InstrumentsView(APIView):
    """The forms, public and the same for everyone: any signed-in user may read them."""

    class OutputSerializer(serializers.Serializer[Any]):
        instruments = InstrumentSerializer(many=True)

        class Meta:
            ref_name = "Instruments"

    @extend_schema(
        tags=["measures"],
        summary="The PHQ-9 and GAD-7 forms",
        description=(
            "Item texts, answer options, severity bands and LOINC codes, so an app can render "
            "the forms and label the scores. Both instruments are free of copyright "
            "restriction."
        ),
        responses={200: OpenApiResponse(OutputSerializer, description="Both instruments.")},
    )
    def get(self, request: Request) -> Response:
        return Response(
            self.OutputSerializer({"instruments": list(measures.INSTRUMENTS.values())}).data
        )


class TrendPointSerializer(serializers.Serializer[selectors.TrendPoint]):
    id = serializers.UUIDField()
    taken_at = serializers.DateTimeField()
    total = serializers.IntegerField()
    band = EnumField(Band)
    is_baseline = serializers.BooleanField()
    change_from_baseline = serializers.IntegerField(
        allow_null=True, help_text="Total minus the baseline total (negative: fewer symptoms)."
    )
    percent_change = serializers.FloatField(
        allow_null=True, help_text="The change in percent of the baseline; null for baseline 0."
    )
    is_response = serializers.BooleanField(
        allow_null=True,
        help_text=(
            "At least 50% below the baseline. Null before the first dosing session, without "
            "a baseline, or for a baseline below 10."
        ),
    )
    is_remission = serializers.BooleanField(
        allow_null=True,
        help_text=("Below `remission_below` (PHQ-9 and GAD-7: 5). Null when `is_response` is."),
    )

    class Meta:
        ref_name = "TrendPoint"


class TrendBaselineSerializer(serializers.Serializer[Measure]):
    id = serializers.UUIDField()
    total = serializers.IntegerField()
    band = EnumField(Band)
    taken_at = serializers.DateTimeField()

    class Meta:
        ref_name = "TrendBaseline"


class MeasureTrendView(APIView):
    permission_classes = [IsPatient]

    class QuerySerializer(StrictSerializer):
        instrument = EnumField(Instrument)

    class OutputSerializer(serializers.Serializer[selectors.Trend]):
        instrument = EnumField(Instrument)
        first_dosing_session_at = serializers.DateTimeField(
            allow_null=True,
            help_text="The start of your first dosing session that is not cancelled.",
        )
        baseline = TrendBaselineSerializer(
            allow_null=True,
            help_text="Your last measure before the first dosing session; null if none.",
        )
        remission_below = serializers.SerializerMethodField()
        points = TrendPointSerializer(many=True, help_text="Oldest first.")
        latest = TrendPointSerializer(allow_null=True)

        class Meta:
            ref_name = "MeasureTrend"

        def get_remission_below(self, trend: selectors.Trend) -> int:
            return measures.definition(trend.instrument).remission_below

    @extend_schema(
        tags=["measures"],
        summary="Your scores over the course, against the baseline",
        description=(
            "All your measures of one instrument, oldest first, each with its change from "
            "the baseline (the last score before the first dosing session) and the response "
            "(a drop of at least 50%) and remission (below 5) flags. Definitions: "
            "docs/measures.md."
        ),
        parameters=[QuerySerializer],
        responses={200: OpenApiResponse(OutputSerializer, description="The trend.")},
    )
    def get(self, request: Request) -> Response:
        patient = _patient(request)
        query = self.QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        trend = selectors.measure_trend_for_patient(
            patient=patient, instrument=query.validated_data["instrument"]
        )
        return Response(self.OutputSerializer(trend).data)


class FhirExportView(APIView):
    permission_classes = [IsPatient]

    @extend_schema(
        tags=["me"],
        operation_id="me_export_fhir",
        summary="Export your measures as FHIR R4",
        description=(
            "A FHIR R4 Bundle (type `collection`, application/fhir+json) of your measures: "
            "for each, a QuestionnaireResponse with the LOINC-coded answers and an "
            "Observation of the total score, `derivedFrom` it. You appear only by an "
            "identifier, never by name or email."
        ),
        responses={
            (200, fhir.FHIR_CONTENT_TYPE): OpenApiResponse(
                OpenApiTypes.OBJECT, description="A FHIR R4 Bundle."
            )
        },
    )
    def get(self, request: Request) -> HttpResponse:
        patient = _patient(request)
        now = timezone.now()
        rows = selectors.measure_queryset_for_patient(patient=patient).order_by("taken_at", "id")
        bundle = fhir.measures_bundle(open_measures(rows, sealer=sealer_for(patient)), now=now)
        filename = f"afterglow-measures-{now:%Y-%m-%d}.fhir.json"
        return HttpResponse(
            json.dumps(bundle, ensure_ascii=False),
            content_type=fhir.FHIR_CONTENT_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )


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
        serializers=[SessionOutputSerializer, EntryOutputSerializer, MeasureOutputSerializer],
        resource_type_field_name=None,
    )
)
class SyncRecordField(serializers.Field):  # type: ignore[type-arg]
    """The record (a Session, an Entry or a Measure) as a list of them shows it; null for a
    deletion."""

    def to_representation(self, value: dict[str, Any]) -> dict[str, Any]:
        return value


class SyncRecordType(TextChoices):
    SESSION = "session", "Treatment session"
    ENTRY = "entry", "Journal entry"
    MEASURE = "measure", "Measure (PHQ-9, GAD-7)"


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
            "Your sessions, entries and measures, deletions included, in the order they "
            "changed. "
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
            elif isinstance(item.record, Measure):
                data = _measure_data(open_measure(item.record, sealer=sealer))
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
        measures = MeasureOutputSerializer(many=True)

        class Meta:
            ref_name = "JournalExport"

    @extend_schema(
        tags=["me"],
        summary="Export everything you recorded, decrypted",
        description=(
            "Your account details, sessions and entries (decrypted) and measures, as one JSON "
            "document. "
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
            "measures": export.measures,
        }
        return Response(
            self.OutputSerializer(data).data,
            headers={"Content-Disposition": f'attachment; filename="{filename}.json"'},
        )
