"""The journal API's HTTP plumbing: ETag / If-Match, the versioned write and its render,
shared serializer fields, the safety block on a measure's error answer, and what the
record endpoints of every kind share: a list's query and page, the base views of a
versioned record, and their OpenAPI declarations.

Every single-record response carries `ETag: "<version>"`; changes take the version back as
`If-Match` (or a `version` field) so that two devices editing offline cannot overwrite each
other unseen.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from django.db.models import Model, QuerySet
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.models import User
from backend.accounts.permissions import IsPatient
from backend.api import PROBLEM, problem_openapi, problem_with_current, request_patient
from backend.errors import PROBLEM_CONTENT_TYPE, ProblemError, problem
from backend.idempotency import (
    IDEMPOTENCY_KEY_AS_ID_PARAMETER,
    IDEMPOTENT_REPLAYED_HEADER,
    REPLAYED_HEADER,
    derived_id,
    idempotency_key,
    key_reused_problem,
)
from backend.middleware import log_unhandled_exception
from backend.pagination import ApiCursorPagination
from backend.problem_codes import ProblemCode
from backend.serializers import BoundedDateTimeField, TextField
from journal import records
from journal.keys import Sealer, sealer_for
from journal.models import (
    Entry,
    TreatmentSession,
)
from journal.safety import not_monitored_notice


def text_field(max_length: int, help_text: str) -> TextField:
    # Taken as written (no trimming). The field refuses NUL characters and lone surrogates
    # (which cannot be stored as UTF-8), without quoting the text.
    return TextField(
        max_length=max_length,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text=help_text,
    )


# Versions are stored as a PostgreSQL integer: a larger one can name no version.
MAX_VERSION = 2**31 - 1


def version_field() -> serializers.IntegerField:
    return serializers.IntegerField(
        min_value=1,
        max_value=MAX_VERSION,
        required=False,
        help_text='The version you changed; the same as sending `If-Match: "<version>"`.',
    )


def version_and_times() -> tuple[
    serializers.IntegerField,
    serializers.DateTimeField,
    serializers.DateTimeField,
    serializers.DateTimeField,
]:
    """The fields a versioned record's output ends with: `version`, `written_at`,
    `created_at`, `updated_at`, made in that order. An output serializer unpacks them after
    its own fields (a base class's fields would come first in the schema)."""
    return (
        serializers.IntegerField(help_text="Also sent as the ETag."),
        serializers.DateTimeField(
            help_text="When it was written (the time of writing sent, else its arrival)."
        ),
        serializers.DateTimeField(),
        serializers.DateTimeField(),
    )


@extend_schema_field(
    {
        "type": "string",
        "readOnly": True,
        "description": (
            "The journal is not monitored in real time: who to call instead (the clinic's "
            "after-hours line, a crisis line and the emergency number of your country)."
        ),
        "example": not_monitored_notice(country="US"),
    }
)
class NoticeField(serializers.CharField):
    """The not-monitored notice (`journal.safety.not_monitored_notice`) for the patient's
    country: endpoints that accept free text say in every response that nobody reads it
    in real time. The record functions put it in the data (`with_notice`)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["read_only"] = True
        super().__init__(**kwargs)


def with_notice(data: dict[str, Any], *, patient: User) -> dict[str, Any]:
    """A single record's data with the notice for its owner's country."""
    data["notice"] = not_monitored_notice(country=patient.country)
    return data


@cache
def renderer(serializer_class: type[serializers.Serializer[Any]]) -> serializers.Serializer[Any]:
    """One instance of an output serializer per process, its fields bound once: a new
    instance per record would deep-copy every field each time. Output serializers hold no
    state between calls to `to_representation`."""
    return serializer_class()


def represent(serializer_class: type[serializers.Serializer[Any]], record: Any) -> dict[str, Any]:
    return dict(renderer(serializer_class).to_representation(record))


def etag(version: int) -> str:
    return f'"{version}"'


_ENTITY_TAG = re.compile(r'"([0-9]{1,10})"')


def if_match_versions(header: str) -> frozenset[int] | None:
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


def expected_versions(
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
                ProblemCode.PRECONDITION_REQUIRED,
                'Send the version you are changing: the header If-Match: "<version>" '
                "(the ETag you read) or a `version` field.",
            )
        return None
    expected = if_match_versions(header) if header is not None else None
    if body_version is not None:
        expected = frozenset({body_version}) if expected is None else expected & {body_version}
    return expected


WrittenT = TypeVar("WrittenT", TreatmentSession, Entry)

ModelT = TypeVar("ModelT", bound=Model)

ViewMethod = TypeVar("ViewMethod", bound=Callable[..., Any])


def versioned_write(
    operation: Callable[[], WrittenT], render: Callable[[Any], dict[str, Any]]
) -> WrittenT:
    """Run a versioned write; a stale version answers 412 with the record as it is now."""
    try:
        return operation()
    except records.VersionConflictError as conflict:
        current = conflict.current
        raise ProblemError(
            412,
            ProblemCode.VERSION_CONFLICT,
            "The record changed since the version you sent. `current` is the record as it "
            "is now (its ETag too): apply your change to it and send again.",
            extra={"current": render(current)},
            headers={"ETag": etag(current.version)},
        ) from None


def record_response(data: dict[str, Any], *, status_code: int = 200) -> Response:
    return Response(data, status=status_code, headers={"ETag": etag(data["version"])})


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


IF_MATCH_DELETE = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    required=True,
    description=(
        'The ETag you read, e.g. "3" (`*`: whatever the version). Without it 428; a stale '
        "one 412 with the current record. A repeated delete answers as the first did."
    ),
)


VERSION_CONFLICT = (
    "`version_conflict`: the record changed. `current` holds it as it is now; the ETag "
    "header its version."
)
RESPONSE_412_SESSION = problem_with_current(VERSION_CONFLICT, "Session")
RESPONSE_412_ENTRY = problem_with_current(VERSION_CONFLICT, "Entry")


RESPONSE_410 = problem_openapi(
    "`gone`: you deleted this record; `deleted_at` says when, `version` (and the ETag) is "
    "the tombstone's version, and sync reports it as deleted."
)


RESPONSE_428 = problem_openapi('`precondition_required`: send If-Match: "<version>" or `version`.')


RESPONSE_409 = problem_openapi(
    "`id_conflict`: the `id` is taken by a different record (or was deleted). A repeat of "
    "the same create answers 200 instead. `idempotency_key_reused`: the `Idempotency-Key` "
    "(sent without an `id`) was used for different content."
)


def created_or_repeated(created: records.Created[Any], data: dict[str, Any]) -> Response:
    response = record_response(
        data, status_code=status.HTTP_201_CREATED if created.is_new else status.HTTP_200_OK
    )
    if not created.is_new:
        response[REPLAYED_HEADER] = "true"
    return response


def create_with_key(
    request: Request,
    data: dict[str, Any],
    *,
    operation: str,
    create: Callable[[], Response],
    current: Callable[[uuid.UUID], dict[str, Any]],
) -> Response:
    """A create of a record that repeats by client id, taking `Idempotency-Key` as well:
    without an `id` in the body, the key stands for one (`backend.idempotency.derived_id`),
    so a repeat answers as a repeated id does (200, the record) and the same key with other
    content answers 409 `idempotency_key_reused`, with the record the key made in
    `current` (`current(id)` renders it; none when it was deleted since)."""
    key = idempotency_key(request)
    if key is None or data.get("id") is not None:
        return create()
    data["id"] = derived_id(request, operation=operation, key=key)
    try:
        return create()
    except ProblemError as error:
        if error.problem_code != "id_conflict":
            raise
        # The derived id is this patient's (the account is part of it): the record is theirs.
        try:
            made: dict[str, Any] | None = current(data["id"])
        except (ProblemError, NotFound):
            made = None
        raise key_reused_problem(made) from None


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


def service_data(validated: Mapping[str, Any]) -> dict[str, Any]:
    """Input names to service names: the API's `session` is the service's `session_id`."""
    data = dict(validated)
    if "session" in data:
        data["session_id"] = data.pop("session")
    return data


def written_at_field() -> BoundedDateTimeField:
    """The client's time of writing, for a record written offline and sent later."""
    return BoundedDateTimeField(
        required=False,
        help_text=(
            "When you wrote it, by the device's clock (send it for anything written offline): "
            "rules that depend on time use it, so an intention written before its session "
            "stays one however late it arrives. Not after now (a few minutes' skew allowed) "
            "and not before the account existed. Left out: the time it arrives."
        ),
    )


def validated_query(
    request: Request, serializer_class: type[serializers.Serializer[Any]]
) -> dict[str, Any]:
    """The request's query string through its serializer (400 when it is refused)."""
    query = serializer_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    return dict(query.validated_data)


def filtered(
    rows: QuerySet[ModelT], filters: Mapping[str, Any] | None, lookups: Mapping[str, str]
) -> QuerySet[ModelT]:
    """`rows` narrowed by each filter of a list's query that is given: `lookups` names the
    field lookup each filter sets."""
    for name, lookup in lookups.items():
        value = (filters or {}).get(name)
        if value is not None and value != "":
            rows = rows.filter(**{lookup: value})
    return rows


@dataclass(frozen=True)
class RecordList:
    """The GET of a list of the patient's records: the filters of the query, then a cursor
    page of `rows(patient=, filters=)`, rendered with the patient's sealer."""

    filters_class: type[serializers.Serializer[Any]]
    pagination_class: type[ApiCursorPagination]
    rows: Callable[..., Any]
    page_data: Callable[[list[Any], Sealer], list[dict[str, Any]]]

    def response(self, request: Request, view: APIView) -> Response:
        patient = request_patient(request)
        filters = validated_query(request, self.filters_class)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            self.rows(patient=patient, filters=filters), request, view=view
        )
        return paginator.get_paginated_response(self.page_data(page or [], sealer_for(patient)))


@dataclass(frozen=True)
class VersionedRecords:
    """What the endpoints of one kind of versioned record (sessions, entries) call: its
    package's selectors and services, and the render of one record (`data_of`, without the
    notice). `id_name` is the record id's keyword, in the URL as in the selectors and
    services."""

    id_name: str
    create_operation: str  # names a create's Idempotency-Key (`derived_id`)
    get: Callable[..., Any]  # (patient=, <id_name>=) -> the live record
    create: Callable[..., records.Created[Any]]
    update: Callable[..., Any]
    delete: Callable[..., Any]
    data_of: Callable[[Any, Sealer], dict[str, Any]]

    def record_of(self, record: Any, sealer: Sealer, *, patient: User) -> dict[str, Any]:
        """The record as a create, change or read of it answers: with the notice for the
        patient's country."""
        return with_notice(self.data_of(record, sealer), patient=patient)


# The views of a kind of versioned record. A docstring here would describe, in the schema,
# every operation of a subclass that declares no description of its own: comments only.


class RecordCollectionView(APIView):
    # The list (GET) and the create (POST) of a kind of versioned record; a subclass names
    # the list, the kind, its input serializer, and the schema of each method.

    permission_classes = [IsPatient]
    listing: RecordList
    records: VersionedRecords
    input_serializer: type[serializers.Serializer[Any]]

    def get(self, request: Request) -> Response:
        return self.listing.response(request, self)

    def post(self, request: Request) -> Response:
        # Create, or answer the repeat of a create (by `id` or `Idempotency-Key`).
        kind = self.records
        patient = request_patient(request)
        serializer = self.input_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        sealer = sealer_for(patient)
        data = service_data(serializer.validated_data)

        def create() -> Response:
            created = kind.create(patient=patient, sealer=sealer, **data)
            return created_or_repeated(
                created, kind.record_of(created.record, sealer, patient=patient)
            )

        def current(record_id: uuid.UUID) -> dict[str, Any]:
            record = kind.get(patient=patient, **{kind.id_name: record_id})
            return kind.record_of(record, sealer, patient=patient)

        return create_with_key(
            request, data, operation=kind.create_operation, create=create, current=current
        )


class RecordDetailView(APIView):
    # The read (GET), change (PATCH) and delete (DELETE) of one versioned record, its id in
    # the URL under the kind's `id_name`; a subclass names the kind, its change serializer,
    # and the schema of each method.

    permission_classes = [IsPatient]
    records: VersionedRecords
    update_serializer: type[serializers.Serializer[Any]]

    def get(self, request: Request, **url: uuid.UUID) -> Response:
        patient = request_patient(request)
        record = self.records.get(patient=patient, **url)
        return record_response(self.records.record_of(record, sealer_for(patient), patient=patient))

    def patch(self, request: Request, **url: uuid.UUID) -> Response:
        # Validate the changes, take the version the client read (If-Match or `version`,
        # required), write under that precondition (412 with `current` when stale) and
        # answer the record with its ETag.
        kind = self.records
        patient = request_patient(request)
        serializer = self.update_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = service_data(serializer.validated_data)
        expected = expected_versions(request, data.pop("version", None), is_required=True)
        sealer = sealer_for(patient)
        record = versioned_write(
            lambda: kind.update(
                patient=patient, data=data, expected_versions=expected, sealer=sealer, **url
            ),
            lambda current: kind.data_of(current, sealer),
        )
        return record_response(kind.record_of(record, sealer, patient=patient))

    def delete(self, request: Request, **url: uuid.UUID) -> Response:
        # If-Match required (428 without, 412 when stale), a tombstone, and 204 with the
        # tombstone's ETag; a repeated delete answers the same.
        kind = self.records
        patient = request_patient(request)
        expected = expected_versions(request, None, is_required=True)
        record = versioned_write(
            lambda: kind.delete(patient=patient, expected_versions=expected, **url),
            lambda current: kind.data_of(current, sealer_for(patient)),
        )
        return Response(status=status.HTTP_204_NO_CONTENT, headers={"ETag": etag(record.version)})


# The OpenAPI declarations of the record endpoints, alike for every kind of record; the
# keywords left (summary, description, request, examples) pass to `extend_schema`.


def list_schema(
    tag: str, *, filters: type[Any], page: type[Any], **operation: Any
) -> Callable[[ViewMethod], ViewMethod]:
    return extend_schema(
        tags=[tag],
        operation_id=f"{tag}_list",
        parameters=[filters],
        responses={200: OpenApiResponse(page, description="A page.")},
        **operation,
    )


def create_schema(
    tag: str,
    *,
    record: type[Any],
    problems: Mapping[Any, OpenApiResponse] | None = None,
    **operation: Any,
) -> Callable[[ViewMethod], ViewMethod]:
    """`problems`: error answers documented otherwise than every operation's."""
    return extend_schema(
        tags=[tag],
        parameters=[ETAG_HEADER, IDEMPOTENCY_KEY_AS_ID_PARAMETER, IDEMPOTENT_REPLAYED_HEADER],
        responses={
            201: OpenApiResponse(record, description="Created."),
            200: OpenApiResponse(record, description="A repeated create."),
            (409, PROBLEM): RESPONSE_409,
            **(problems or {}),
        },
        **operation,
    )


def read_schema(
    tag: str, *, record: OpenApiResponse, has_tombstone: bool, **operation: Any
) -> Callable[[ViewMethod], ViewMethod]:
    """A record deleted alone leaves a tombstone and answers 410 `gone`; a measure (deleted
    only with the account) does not."""
    responses: dict[Any, OpenApiResponse] = {200: record}
    if has_tombstone:
        responses[(410, PROBLEM)] = RESPONSE_410
    return extend_schema(tags=[tag], parameters=[ETAG_HEADER], responses=responses, **operation)


def change_schema(
    tag: str, *, record: OpenApiResponse, conflict: OpenApiResponse, **operation: Any
) -> Callable[[ViewMethod], ViewMethod]:
    return extend_schema(
        tags=[tag],
        parameters=[IF_MATCH_REQUIRED, ETAG_HEADER],
        responses={
            200: record,
            (410, PROBLEM): RESPONSE_410,
            (412, PROBLEM): conflict,
            (428, PROBLEM): RESPONSE_428,
        },
        **operation,
    )


def delete_schema(
    tag: str, *, conflict: OpenApiResponse, **operation: Any
) -> Callable[[ViewMethod], ViewMethod]:
    return extend_schema(
        tags=[tag],
        parameters=[IF_MATCH_DELETE],
        responses={
            204: OpenApiResponse(description="Deleted."),
            (412, PROBLEM): conflict,
            (428, PROBLEM): RESPONSE_428,
        },
        **operation,
    )
