"""One error shape for every 4xx and 5xx: RFC 9457 problem details.

    {"type": "urn:afterglow:problem:validation", "title": "Bad Request", "status": 400,
     "detail": "...", "code": "validation", "errors": {"field": ["message"]},
     "instance": "urn:afterglow:request:<request id>", "request_id": "<request id>"}

`code` is always a member of `backend.problem_codes.ProblemCode`.

Messages never echo what the client sent: a journal's words must not come back in an
error, be logged with it, or land in a proxy's error log. Field messages that contain a
submitted string are replaced by a generic one.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator, Mapping
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from backend.logging import current_request_id
from backend.problem_codes import ProblemCode, problem_code

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:afterglow:problem:"
INSTANCE_PREFIX = "urn:afterglow:request:"

# Codes for statuses that DRF or Django raise without one of ours.
_DEFAULT_CODES: dict[int, ProblemCode] = {
    400: ProblemCode.BAD_REQUEST,
    401: ProblemCode.NOT_AUTHENTICATED,
    403: ProblemCode.PERMISSION_DENIED,
    404: ProblemCode.NOT_FOUND,
    405: ProblemCode.METHOD_NOT_ALLOWED,
    406: ProblemCode.NOT_ACCEPTABLE,
    409: ProblemCode.CONFLICT,
    412: ProblemCode.PRECONDITION_FAILED,
    413: ProblemCode.PAYLOAD_TOO_LARGE,
    415: ProblemCode.UNSUPPORTED_MEDIA_TYPE,
    428: ProblemCode.PRECONDITION_REQUIRED,
    429: ProblemCode.THROTTLED,
    500: ProblemCode.SERVER_ERROR,
    503: ProblemCode.UNAVAILABLE,
}

# The database is away for a moment (a restart, a failover, too many connections) or
# gave up on a statement (a deadlock, a serialization failure, a statement timeout):
# PostgreSQL errors that a retry can cure. They answer 503 with Retry-After, not 500, so
# the app keeps the write and sends it again (with its own id a repeat is harmless).
DATABASE_UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError)
DATABASE_RETRY_AFTER_SECONDS = 5

_GENERIC_DETAIL: dict[ProblemCode, str] = {
    ProblemCode.PARSE_ERROR: "The request body is not valid JSON in UTF-8.",
    ProblemCode.NOT_FOUND: "Nothing was found at this address.",
    ProblemCode.METHOD_NOT_ALLOWED: "This method is not allowed here.",
    ProblemCode.UNSUPPORTED_MEDIA_TYPE: "Send the request body as application/json.",
    ProblemCode.NOT_AUTHENTICATED: "Sign in: send 'Authorization: Token <token>'.",
    ProblemCode.AUTHENTICATION_FAILED: "The token is invalid or expired.",
    ProblemCode.THROTTLED: "Too many requests. Try again later.",
    ProblemCode.SERVER_ERROR: "Something went wrong on our side. It has been logged.",
    ProblemCode.PAYLOAD_TOO_LARGE: "The request body is too large.",
    ProblemCode.BAD_REQUEST: "The request could not be understood.",
    ProblemCode.PERMISSION_DENIED: "You do not have permission to do this.",
    ProblemCode.DATABASE_UNAVAILABLE: (
        "The service cannot reach its database just now. Try again shortly."
    ),
}

INVALID_VALUE_MESSAGE = "This value is invalid."


def registered_code(code: str) -> ProblemCode:
    """`code` as a member of the registry. A code that is not one (a library's own, or a
    raise site that bypassed the registry) fails under the tests' settings; elsewhere it
    is logged and answered as `error`, so a client never meets a code outside the enum."""
    known = problem_code(code)
    if known is not None:
        return known
    if settings.PROBLEM_CODES_STRICT:
        raise ValueError(f"problem code {code!r} is not in backend.problem_codes")
    logger.error("unregistered problem code", extra={"problem_code": code})
    return ProblemCode.ERROR


def problem(
    status: int,
    *,
    code: ProblemCode | str | None = None,
    detail: str | None = None,
    errors: Mapping[str, list[str]] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The problem document for a status; `code` names the kind of problem."""
    known = registered_code(code) if code else _DEFAULT_CODES.get(status, ProblemCode.ERROR)
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + known.value,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail or _GENERIC_DETAIL.get(known) or HTTPStatus(status).description,
        "code": known.value,
    }
    if errors:
        body["errors"] = dict(errors)
    if extra:
        body.update(extra)
    request_id = current_request_id()
    if request_id:
        # RFC 9457's `instance`: this occurrence, named by the request id (the same one as
        # in the X-Request-ID header and the logs), never by the path, which can hold
        # what the client sent.
        body["instance"] = INSTANCE_PREFIX + request_id
        body["request_id"] = request_id
    return body


def problem_response(status: int, **kwargs: Any) -> HttpResponse:
    """A plain Django response carrying a problem document (for non-DRF code paths)."""
    headers = kwargs.pop("headers", None)
    response = HttpResponse(
        json.dumps(problem(status, **kwargs)),
        status=status,
        content_type=PROBLEM_CONTENT_TYPE,
        headers=headers,
    )
    return response


class ProblemError(exceptions.APIException):
    """Raise from services or views to answer a specific problem."""

    def __init__(
        self,
        status: int,
        code: ProblemCode,
        detail: str,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail=detail, code=code)
        self.status_code = status
        self.problem_code = code
        self.problem_detail = detail
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})


def invalid_fields(errors: Mapping[str, list[str]]) -> ProblemError:
    """A 400 shaped like the handler's field errors, for rules a service checks.

    The messages are fixed sentences that never hold what the client sent, so they go out
    as written. (The handler replaces any message that contains a submitted string, and a
    message naming a rule, "... a completed dosing session", would otherwise be blanked
    whenever the client sent `"status": "completed"`.)
    """
    return ProblemError(
        400,
        ProblemCode.VALIDATION,
        "Some fields are invalid: see 'errors'.",
        extra={"errors": dict(errors)},
    )


def database_unavailable(exception: BaseException) -> tuple[dict[str, Any], dict[str, str]]:
    """The 503 problem and headers for a database error a retry can cure. Logged as a
    warning by the exception's type alone: its message can quote a value."""
    logger.warning(
        "database unavailable",
        extra={"exception_type": f"{type(exception).__module__}.{type(exception).__qualname__}"},
    )
    body = problem(
        503,
        code=ProblemCode.DATABASE_UNAVAILABLE,
        extra={"retry_after_seconds": DATABASE_RETRY_AFTER_SECONDS},
    )
    return body, {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)}


def database_unavailable_response(exception: BaseException) -> HttpResponse:
    """`database_unavailable` as a plain Django response (for non-DRF code paths)."""
    body, headers = database_unavailable(exception)
    return HttpResponse(
        json.dumps(body), status=503, content_type=PROBLEM_CONTENT_TYPE, headers=headers
    )


def _submitted_strings(data: Any) -> set[str]:
    found: set[str] = set()

    def walk(value: Any, depth: int) -> None:
        if depth > 20:
            return
        if isinstance(value, str):
            if value.strip():
                found.add(value)
        elif isinstance(value, Mapping):
            for item in value.values():
                walk(item, depth + 1)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item, depth + 1)
        elif value is not None and not isinstance(value, bool):
            found.add(str(value))

    walk(data, 0)
    return found


def _flatten(detail: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(detail, Mapping):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            yield from _flatten(value, name)
    elif isinstance(detail, list):
        if all(not isinstance(item, Mapping | list) for item in detail):
            for item in detail:
                yield prefix or "non_field_errors", str(item)
        else:
            for index, item in enumerate(detail):
                if item:
                    yield from _flatten(item, f"{prefix}.{index}" if prefix else str(index))
    else:
        yield prefix or "non_field_errors", str(detail)


def field_errors(detail: Any, submitted: set[str]) -> dict[str, list[str]]:
    """Flatten DRF's nested errors to {"a.b.0": [messages]}, scrubbing echoed input."""
    errors: dict[str, list[str]] = {}
    for name, message in _flatten(detail):
        if _echoes(message, submitted):
            message = INVALID_VALUE_MESSAGE
        errors.setdefault(name, []).append(message)
    return errors


# Shorter values are looked for only where messages quote input ('"x" is not a valid
# choice.'), so a value like "short" does not blank "This password is too short.".
_LONG_VALUE = 8
_QUOTES = (('"', '"'), ("'", "'"), ("\u201c", "\u201d"))


def _echoes(message: str, submitted: set[str]) -> bool:
    for value in submitted:
        if len(value) >= _LONG_VALUE and value in message:
            return True
        if any(f"{left}{value}{right}" in message for left, right in _QUOTES):
            return True
    return False


def problem_exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response | None:
    """DRF's exception handler, answering problem documents."""
    if isinstance(exc, DATABASE_UNAVAILABLE_ERRORS):
        set_rollback()
        body, headers = database_unavailable(exc)
        return Response(body, status=503, headers=headers, content_type=PROBLEM_CONTENT_TYPE)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, dict(context))
    if response is None:
        # Not an API exception: let Django answer 500 through handler500 (and log it).
        return None
    status = response.status_code
    if isinstance(exc, ProblemError):
        body = problem(status, code=exc.problem_code, detail=exc.problem_detail, extra=exc.extra)
        for key, value in exc.headers.items():
            response[key] = value
    elif isinstance(exc, exceptions.ValidationError):
        request = context.get("request")
        try:
            submitted = _submitted_strings(request.data) if request is not None else set()
        except Exception:  # the body that failed to parse has nothing to scrub against
            submitted = set()
        body = problem(
            400,
            code=ProblemCode.VALIDATION,
            detail="Some fields are invalid: see 'errors'.",
            errors=field_errors(exc.detail, submitted),
        )
    else:
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else None
        code = registered_code(codes) if isinstance(codes, str) else _DEFAULT_CODES.get(status)
        detail = _GENERIC_DETAIL.get(code) if code else None
        if detail is None and isinstance(exc, exceptions.APIException):
            detail = str(exc.detail) if isinstance(exc.detail, str) else None
        extra: dict[str, Any] = {}
        wait = getattr(exc, "wait", None) if isinstance(exc, exceptions.Throttled) else None
        if wait is not None:
            extra["retry_after_seconds"] = int(wait) + 1
        body = problem(status, code=code, detail=detail, extra=extra)
    response.data = body
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def _handler(status: int, code: ProblemCode | None = None) -> Any:
    def view(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
        return problem_response(status, code=code)

    return view


handler400 = _handler(400)
handler403 = _handler(403)
handler404 = _handler(404)


def handler500(request: HttpRequest) -> HttpResponse:
    # Django calls this while handling the exception, so it is still the current one: an
    # exception raised outside any view (in a middleware) lands here.
    error = sys.exc_info()[1]
    if isinstance(error, DATABASE_UNAVAILABLE_ERRORS):
        return database_unavailable_response(error)
    return problem_response(500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return problem_response(403, code=ProblemCode.CSRF_FAILED, detail="CSRF verification failed.")
