"""Request-wide middleware: request ids and access logs, body size limit, no-store."""

from __future__ import annotations

import logging
import re
import time
import traceback
import uuid
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import (
    BadRequest,
    DisallowedHost,
    PermissionDenied,
    SuspiciousOperation,
)
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import Resolver404, resolve

from backend.errors import (
    DATABASE_UNAVAILABLE_ERRORS,
    database_unavailable_response,
    problem_response,
)
from backend.logging import reset_request_id, set_request_id
from backend.problem_codes import ProblemCode

access_logger = logging.getLogger("afterglow.access")

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

Handler = Callable[[HttpRequest], HttpResponse]

UNMATCHED_PATH = "<unmatched>"
_PLACEHOLDER = re.compile(r"<(?:[^>:]+:)?([^>]+)>")
_REGEX_CHARACTERS = frozenset("^$*+?()[]{}|\\")


def _is_id(value: object) -> bool:
    """A UUID or a number: a value that cannot carry words."""
    if isinstance(value, bool):
        return False
    if isinstance(value, uuid.UUID | int):
        return True
    if isinstance(value, str):
        if value.isascii() and value.isdigit() and len(value) <= 20:
            return True
        try:
            uuid.UUID(value)
        except ValueError:
            return False
        return True
    return False


def loggable_path(request: HttpRequest) -> str:
    """The request's path as the logs record it: its route, with the ids in it and every
    other value left as the route's placeholder (`/dashboard/shares/<str:share_id>/`).

    A raw path can carry anything a client put in it, a sentence of a journal included,
    and would take it into every log line and log store. A path that matches no route is
    logged as `<unmatched>`, a route given as a regular expression as that expression.
    """
    match = getattr(request, "resolver_match", None)
    if match is None:
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return UNMATCHED_PATH
    prefix = request.path[: len(request.path) - len(request.path_info)].rstrip("/")
    route = match.route
    if _REGEX_CHARACTERS.intersection(_PLACEHOLDER.sub("", route)):
        return f"{prefix}/{route}"

    def value(placeholder: re.Match[str]) -> str:
        captured = match.kwargs.get(placeholder.group(1))
        return str(captured) if _is_id(captured) else placeholder.group(0)

    return f"{prefix}/{_PLACEHOLDER.sub(value, route)}"


class RequestIdMiddleware:
    """Gives each request an id (the client's X-Request-ID when well-formed), returns it
    in the response header, and writes one access log line: method, path (ids kept, any
    other value a client put in it left out: `loggable_path`), status, duration and user
    id. Never the query string, body or headers."""

    header = "X-Request-ID"

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get(self.header, "")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        token = set_request_id(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response[self.header] = request_id
            user = getattr(request, "user", None)
            access_logger.info(
                "request",
                extra={
                    "method": request.method,
                    "path": loggable_path(request),
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "user_id": str(user.pk) if user is not None and user.is_authenticated else None,
                },
            )
            return response
        finally:
            reset_request_id(token)


class AllowedHostMiddleware:
    """Answers a request whose Host is not in ALLOWED_HOSTS with a 400 problem document,
    in every mode.

    Django raises DisallowedHost from the first code that asks for the host (a middleware);
    with DEBUG on, its answer to that is the debug page, settings and all. Asking here
    first, before any other middleware, keeps that page out of reach. The log line does
    not quote the header: a client wrote it.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            request.get_host()
        except DisallowedHost:
            logging.getLogger("django.security.DisallowedHost").warning(
                "request for a host that is not in ALLOWED_HOSTS"
            )
            return problem_response(
                400,
                code=ProblemCode.DISALLOWED_HOST,
                detail="This service does not answer for the host named in this request.",
            )
        return self.get_response(request)


class BodySizeLimitMiddleware:
    """Answers 413 for a declared body over MAX_REQUEST_BODY_BYTES, before anything reads it."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        declared = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(declared)
        except ValueError:
            return problem_response(400, detail="Content-Length is not a number.")
        if length > settings.MAX_REQUEST_BODY_BYTES:
            return problem_response(
                413,
                detail=f"The request body is larger than {settings.MAX_REQUEST_BODY_BYTES} bytes.",
            )
        return self.get_response(request)


class NoStoreMiddleware:
    """Marks every dynamic response `Cache-Control: no-store`: journal text must not stay
    in a shared cache, a browser cache or a phone's HTTP cache."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response["Cache-Control"] = "no-store"
        return response


class ApiNotFoundMiddleware:
    """An unknown address under /api/ answers a 404 problem document in every mode: with
    `DEBUG` on (as in `make run`) Django would answer its HTML "page not found", which no
    API client can read."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        is_html = response.get("Content-Type", "").startswith("text/html")
        if response.status_code == 404 and is_html and request.path.startswith("/api/"):
            return problem_response(404)
        return response


error_logger = logging.getLogger("afterglow.errors")


class ProblemExceptionMiddleware:
    """Answers any unhandled exception with a 500 problem document, in every mode (Django's
    debug page would show a stack trace and local values); a database that is away
    answers 503 with Retry-After instead (backend.errors.DATABASE_UNAVAILABLE_ERRORS), and
    a suspicious or malformed request (SuspiciousOperation, BadRequest) 400.

    The log line names the exception type and the code locations only: an exception's
    message can carry data (a database error quoting a value), so it is not logged.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, Http404 | PermissionDenied):
            return None  # Django answers these through handler404/403
        if isinstance(exception, SuspiciousOperation | BadRequest):
            # Django would answer these through handler400, or with the debug page in
            # DEBUG, and log the exception's message, which can quote the request.
            logging.getLogger(f"django.security.{type(exception).__name__}").warning(
                "suspicious or malformed request refused"
            )
            return problem_response(400)
        if isinstance(exception, DATABASE_UNAVAILABLE_ERRORS):
            return database_unavailable_response(exception)
        log_unhandled_exception(request, exception)
        return problem_response(500)


def log_unhandled_exception(request: HttpRequest, exception: BaseException) -> None:
    """Log a server error by its type and code locations: never its message, which can
    carry data (a database error quoting a value), and the route, not the raw path."""
    frames = traceback.extract_tb(exception.__traceback__)
    error_logger.error(
        "unhandled exception",
        extra={
            "exception_type": f"{type(exception).__module__}.{type(exception).__qualname__}",
            "frames": [f"{frame.filename}:{frame.lineno} in {frame.name}" for frame in frames],
            "method": request.method,
            "path": loggable_path(request),
        },
    )
