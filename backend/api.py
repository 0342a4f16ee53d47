"""What every API view shares: who is asking, its validated input, and how a problem
answer and a request example are described.

One definition each; views in every app import them from here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from copy import deepcopy
from datetime import datetime
from typing import Any, TypeVar

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotAuthenticated
from rest_framework.fields import empty
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.models import DeviceToken, User
from backend.errors import PROBLEM_CONTENT_TYPE, ProblemError
from backend.openapi import problem_description
from backend.pagination import (
    PAGE_PARAMETERS,
    PAGE_QUERY_PARAMETERS,
    ApiCursorPagination,
    paginated,
)

PROBLEM = PROBLEM_CONTENT_TYPE

# What an `extend_schema` made by a schema factory decorates: a view method or a view.
Documented = TypeVar("Documented", bound=Callable[..., Any])


def request_user(request: Request) -> User:
    """The signed-in user; the view's permission has already let only users through."""
    user = request.user
    if not isinstance(user, User):
        raise NotAuthenticated()
    return user


def request_patient(request: Request) -> User:
    """The patient making the request (behind `IsPatient`)."""
    return request_user(request)


def request_therapist(request: Request) -> User:
    """The therapist making the request (behind `IsTherapist`: verified second factor)."""
    return request_user(request)


def request_device_token(request: Request) -> DeviceToken | None:
    """The device token the request came with; None for a web (session) sign-in."""
    return request.auth if isinstance(request.auth, DeviceToken) else None


class AnonymousView(APIView):
    """A view that needs no sign-in and reads no credentials (sign-in, registration,
    enrolment): subclasses name their own throttles."""

    authentication_classes = []
    permission_classes = [AllowAny]


def input_data(request: Request, serializer_class: type[serializers.Serializer[Any]]) -> Any:
    """The request body as `serializer_class` validates it; invalid input answers 400."""
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def request_example(name: str, value: dict[str, Any]) -> OpenApiExample:
    """A named example of a request body (never shown as an answer)."""
    return OpenApiExample(name, value=value, request_only=True)


def problem_openapi(description: str, *, problem: str = "Problem") -> OpenApiResponse:
    """An OpenAPI response that is a problem document, with what it means here (`problem`:
    the problem component, `ProblemWithSafety` where the answer may carry `safety`)."""
    return OpenApiResponse(
        response={"$ref": f"#/components/schemas/{problem}"}, description=description
    )


def problem_with_current(
    description: str, component: str, *, is_always: bool = True
) -> OpenApiResponse:
    """A problem document that carries the resource as it is now in `current`, typed as
    the named component, so a generated client decodes it as that record (`is_always`
    false: only some of the problems of that status carry it)."""
    current: dict[str, Any] = {
        "type": "object",
        "properties": {"current": {"$ref": f"#/components/schemas/{component}"}},
    }
    if is_always:
        current["required"] = ["current"]
    return OpenApiResponse(
        response={"allOf": [{"$ref": "#/components/schemas/Problem"}, current]},
        description=description,
    )


def problems_with_safety(
    *statuses: int, described: Mapping[int, OpenApiResponse] | None = None
) -> dict[tuple[int, str], OpenApiResponse]:
    """The error answers of an operation whose answers may carry the safety block
    (journal.api.SafetyBlockOnErrorView), each typed as `ProblemWithSafety` so that a
    generated client keeps `safety`: a status in `described` keeps its description (and
    `current`), the others take the one every operation has (backend/openapi.py)."""
    responses: dict[tuple[int, str], OpenApiResponse] = {}
    for status in statuses:
        given = (described or {}).get(status)
        if given is None:
            response = problem_openapi(problem_description(status), problem="ProblemWithSafety")
        else:
            schema = deepcopy(given.response)
            base = schema["allOf"][0] if "allOf" in schema else schema
            if base != {"$ref": "#/components/schemas/Problem"}:
                raise ValueError(f"not a problem response: {schema}")
            base["$ref"] = "#/components/schemas/ProblemWithSafety"
            response = OpenApiResponse(response=schema, description=given.description)
        responses[(status, PROBLEM)] = response
    return responses


RESPONSE_404 = problem_openapi("Not found, or not yours.")


def list_schema(
    tag: str,
    operation_id: str,
    summary: str,
    page: type[serializers.Serializer[Any]],
    *,
    description: str = "Newest first; cursor pages.",
    parameters: Sequence[OpenApiParameter] = (),
    problems: dict[int, OpenApiResponse] | None = None,
) -> Callable[[Documented], Documented]:
    """The schema of a list operation: its own query `parameters` and the page's, a page
    of `page` (its `pages_of` component) and the problem documents it may answer besides,
    by status."""
    return extend_schema(
        tags=[tag],
        operation_id=operation_id,
        summary=summary,
        description=description,
        parameters=[*parameters, *PAGE_PARAMETERS],
        responses=_responses({200: OpenApiResponse(page, description="A page.")}, problems),
    )


def detail_schema(
    tag: str,
    summary: str,
    ok: OpenApiResponse,
    *,
    status: int = 200,
    operation_id: str | None = None,
    description: str | None = None,
    problems: dict[int, OpenApiResponse] | None = None,
    request: Any = empty,
    examples: list[OpenApiExample] | None = None,
) -> Callable[[Documented], Documented]:
    """The schema of an operation on one resource of the caller's, named by its id: `ok`
    under `status`, the 404 of one that does not exist or is not theirs, and the problem
    documents it may answer besides, by status."""
    return extend_schema(
        tags=[tag],
        operation_id=operation_id,
        summary=summary,
        description=description,
        request=request,
        responses=_responses({status: ok, (404, PROBLEM): RESPONSE_404}, problems),
        examples=examples,
    )


def _responses(
    responses: dict[Any, OpenApiResponse], problems: dict[int, OpenApiResponse] | None
) -> dict[Any, OpenApiResponse]:
    return responses | {(status, PROBLEM): problem for status, problem in (problems or {}).items()}


class PageListView(APIView):
    """A list: GET answers one page of `rows`, the page's rows rendered at once by
    `render`, ordered and paged by `pagination`. The subclass names the schema
    (`extend_schema_view(get=list_schema(...))`)."""

    query_parameters: dict[str, tuple[str, ...]] = {"get": PAGE_QUERY_PARAMETERS}
    pagination: type[ApiCursorPagination]

    def rows(self, request: Request) -> QuerySet[Any, Any] | Sequence[Any]:
        raise NotImplementedError

    def render(self, page: list[Any]) -> list[Any]:
        raise NotImplementedError

    def get(self, request: Request) -> Response:
        return paginated(request, self, self.rows(request), self.render, pagination=self.pagination)


@contextlib.contextmanager
def current_on_conflict(render: Callable[[], dict[str, Any]]) -> Iterator[None]:
    """A 409 raised inside carries the resource as it is now (`current`, from `render`),
    as every 409 of the API does; the schema says so with `problem_with_current`."""
    try:
        yield
    except ProblemError as error:
        if error.status_code == 409 and "current" not in error.extra:
            error.extra["current"] = render()
        raise


def api_datetime(value: datetime) -> str:
    """A date-time as every answer writes it (REST_FRAMEWORK's DATETIME_FORMAT), for the
    few written outside a serializer (problem extensions)."""
    return str(serializers.DateTimeField().to_representation(value))
