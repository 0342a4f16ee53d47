"""`Idempotency-Key`: every create without a client id is safe to retry.

Semantics (the IETF httpapi "The Idempotency-Key HTTP Header Field" draft, with the
project's own answer for a reused key): a create sent with `Idempotency-Key: "<key>"`
runs once per account, operation and key. The same key with the same request answers the
first result again (its status, and the created resource as it is now), marked
`Idempotent-Replayed: true`. The same key with another request answers 409
`idempotency_key_reused` with the resource in `current`. A repeat that arrives while the
first is still running waits for it (`IDEMPOTENCY_WAIT_SECONDS`) and then answers its
result; past the wait, 409 `idempotency_key_in_use` with `Retry-After`. A key answers for
`IDEMPOTENCY_KEY_TTL_HOURS` (24); then it is free again. Only a success is remembered: a
refused request (4xx) leaves the key free for the corrected one. (Creates that repeat by
client id, sessions, entries, measures and prompt answers, take the key as that id
instead, `derived_id`: there it never expires; `IDEMPOTENCY_KEY_AS_ID_PARAMETER`.)

What is stored (`backend.models.IdempotencyKey`): keyed digests (HMAC-SHA256 under a key
derived from SECRET_KEY) of the key and of the request, the status, and the type and id
of the created resource. Never the key, the body or the response: a response can hold a
one-time code or health data, so a repeat renders the resource again instead (and a
one-time secret that was only shown once, an invitation code, is not shown again).

How a repeat waits: the key's row is inserted first in the request's transaction, which
commits with the create. A concurrent repeat's insert of the same row waits on the unique
index until the first commits (then finds the row and answers it) or rolls back (then
runs itself). So two racing requests make one resource, on the database's own locks.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.request import Request
from rest_framework.response import Response

from backend.api import problem_with_current, request_user
from backend.errors import ProblemError, invalid_fields
from backend.models import IdempotencyKey
from backend.problem_codes import ProblemCode

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_MAX_CHARS = 255
# PostgreSQL's SQLSTATE for lock_timeout.
_LOCK_NOT_AVAILABLE = "55P03"

# What every create's key is, before what it answers.
_KEY_IS = (
    "A unique value of your choosing for this create (a random UUID), sent again "
    'unchanged with every retry of it, quoted or not (`"8e03978e-..."`): up to 255 '
    "printable ASCII characters. "
)

IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    HEADER,
    str,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        _KEY_IS + "The same key with the same request answers the first "
        "result (header `Idempotent-Replayed: true`); with another request, 409 "
        "`idempotency_key_reused`; while the first is still running, it waits for it, "
        "then 409 `idempotency_key_in_use`. Keys are per account and operation and answer "
        "for 24 hours."
    ),
)

IDEMPOTENCY_KEY_AS_ID_PARAMETER = OpenApiParameter(
    HEADER,
    str,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        _KEY_IS + "Without a client id in the body, the key stands for "
        "one: the id is made from your account, this operation and the key, so the key "
        "never expires. The same key with the same request answers the first result "
        "(header `Idempotent-Replayed: true`), the record as it is now; with another "
        "request, 409 `idempotency_key_reused`, however much later. Use a new key for each "
        "new record. With a client id in the body, the key is not used."
    ),
)

IDEMPOTENT_REPLAYED_HEADER = OpenApiParameter(
    REPLAYED_HEADER,
    str,
    OpenApiParameter.HEADER,
    response=[200, 201],
    enum=["true"],
    description="Present (`true`) when this answer repeats the first result of the same "
    "create (the same Idempotency-Key, or the same client id).",
)

RESPONSE_409_IDEMPOTENCY = (
    "`idempotency_key_reused`: the `Idempotency-Key` was used for a different request "
    "(`current`: what it made); `idempotency_key_in_use`: a request with this key is still "
    "running (see `Retry-After`)."
)


def response_409_idempotency(component: str, other: str = "") -> OpenApiResponse:
    """The 409 of a create under a key: `current` typed as the resource it makes (present
    on `idempotency_key_reused`), with the operation's own 409s (`other`) before it."""
    return problem_with_current(other + RESPONSE_409_IDEMPOTENCY, component, is_always=False)


def idempotency_key(request: Request) -> str | None:
    """The request's key, or None; a malformed one answers 400."""
    value = request.headers.get(HEADER)
    if value is None:
        return None
    value = value.strip()
    # The draft makes the field a Structured Field string ("..."); bare values are taken too.
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if not value or len(value) > KEY_MAX_CHARS or not all(" " <= c <= "~" for c in value):
        raise invalid_fields(
            {HEADER: ["Send 1 to 255 printable ASCII characters, for example a random UUID."]}
        )
    return value


def _digest(purpose: str, value: str) -> str:
    return salted_hmac(f"afterglow.idempotency.{purpose}", value, algorithm="sha256").hexdigest()


def _request_fingerprint(request: Request) -> str:
    """The request as one canonical text (its path, then its body with sorted keys), as a
    keyed digest: a reformatted body of the same content is the same request."""
    canonical = json.dumps(
        {"path": request.path, "body": request.data},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return _digest("request", canonical)


def derived_id(request: Request, *, operation: str, key: str, purpose: str = "") -> uuid.UUID:
    """A client id made from an Idempotency-Key, for creates that already repeat by client
    id (entries, sessions, measures, prompt answers): the key then means exactly what the
    id means, and the comparison opens the stored record rather than keeping a digest of
    its text. The same account, operation, path and key always give the same id."""
    user = request_user(request)
    digest = _digest("id", f"{user.pk}|{operation}|{request.path}|{purpose}|{key}")
    return uuid.UUID(bytes=bytes.fromhex(digest[:32]), version=4)


def _in_use() -> ProblemError:
    seconds = max(1, int(settings.IDEMPOTENCY_WAIT_SECONDS))
    return ProblemError(
        409,
        ProblemCode.IDEMPOTENCY_KEY_IN_USE,
        "A request with this Idempotency-Key is still running. Send it again shortly.",
        extra={"retry_after_seconds": seconds},
        headers={"Retry-After": str(seconds)},
    )


def key_reused_problem(current: dict[str, Any] | None) -> ProblemError:
    """The 409 `idempotency_key_reused`: the key made something else, in `current` (when it
    can still be rendered). Every create that takes an Idempotency-Key answers this one."""
    return ProblemError(
        409,
        ProblemCode.IDEMPOTENCY_KEY_REUSED,
        "This Idempotency-Key was used for a different request. Use a new key for a new "
        "request; `current` is what the key made.",
        extra={"current": current} if current is not None else None,
    )


def _set_lock_timeout(value: str | None) -> str | None:
    """On PostgreSQL, bound how long the insert waits for a racing first request; returns
    the setting it replaced, to put back."""
    if connection.vendor != "postgresql" or value is None:
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('lock_timeout'), set_config('lock_timeout', %s, true)",
            [value],
        )
        row = cursor.fetchone()
    return str(row[0]) if row else None


def _claim(
    *, user: Any, operation: str, key_digest: str, request_digest: str, now: dt.datetime
) -> IdempotencyKey | None:
    """Insert the key's row (None when the key is taken), waiting on a racing request."""
    IdempotencyKey.objects.filter(
        user=user, operation=operation, key_digest=key_digest, expires_at__lte=now
    ).delete()
    wait_ms = max(1, int(settings.IDEMPOTENCY_WAIT_SECONDS * 1000))
    previous = _set_lock_timeout(f"{wait_ms}ms")
    try:
        with transaction.atomic():
            return IdempotencyKey.objects.create(
                user=user,
                operation=operation,
                key_digest=key_digest,
                request_digest=request_digest,
                status_code=0,
                resource_type="",
                resource_id="",
                created_at=now,
                expires_at=now + dt.timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS),
            )
    except IntegrityError:
        return None
    except OperationalError as error:
        if getattr(error.__cause__, "sqlstate", None) == _LOCK_NOT_AVAILABLE:
            raise _in_use() from None
        raise
    finally:
        _set_lock_timeout(previous)


Replay = Callable[[str, int], Response]


def run_once(
    request: Request,
    *,
    operation: str,
    resource_type: str,
    key: str,
    create: Callable[[], Response],
    replay: Replay,
) -> Response:
    """Run `create` once for this account, operation and key (see the module's text).

    `replay(resource_id, status)` renders the created resource as it is now."""
    user = request_user(request)
    key_digest = _digest("key", key)
    request_digest = _request_fingerprint(request)
    now = timezone.now()
    with transaction.atomic():
        record = _claim(
            user=user,
            operation=operation,
            key_digest=key_digest,
            request_digest=request_digest,
            now=now,
        )
        if record is None:
            existing = IdempotencyKey.objects.get(
                user=user, operation=operation, key_digest=key_digest
            )
            if existing.request_digest != request_digest:
                raise key_reused_problem(_current(replay, existing))
            response = replay(existing.resource_id, existing.status_code)
            response[REPLAYED_HEADER] = "true"
            return response
        response = create()
        data = response.data if isinstance(response.data, dict) else {}
        if not 200 <= response.status_code < 300 or "id" not in data:
            # Only a success is remembered: a refusal leaves the key for the corrected request.
            record.delete()
            return response
        record.status_code = response.status_code
        record.resource_type = resource_type
        record.resource_id = str(data["id"])
        record.save(update_fields=["status_code", "resource_type", "resource_id"])
        return response


def _current(replay: Replay, existing: IdempotencyKey) -> dict[str, Any] | None:
    try:
        data = replay(existing.resource_id, existing.status_code).data
    except Exception:  # the resource is not there any more: the 409 carries no `current`
        return None
    return dict(data) if isinstance(data, dict) else None


ViewMethod = TypeVar("ViewMethod", bound=Callable[..., Response])


def idempotent(operation: str, *, resource_type: str) -> Callable[[ViewMethod], ViewMethod]:
    """Make a view's create method take `Idempotency-Key`. The view defines
    `replay(request, resource_id, status, **kwargs) -> Response`, which answers the
    created resource as it is now (for a repeat, and for `current` on a reused key)."""

    def decorate(method: ViewMethod) -> ViewMethod:
        @wraps(method)
        def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
            key = idempotency_key(request)
            if key is None:
                return method(self, request, *args, **kwargs)
            return run_once(
                request,
                operation=operation,
                resource_type=resource_type,
                key=key,
                create=lambda: method(self, request, *args, **kwargs),
                replay=lambda resource_id, status: self.replay(
                    request, resource_id, status, *args, **kwargs
                ),
            )

        wrapper.idempotent_operation = operation  # type: ignore[attr-defined]
        return cast(ViewMethod, wrapper)

    return decorate


def idempotency_keys_purge(*, now: dt.datetime | None = None) -> int:
    """Beat, hourly: delete the keys past their time. (A lookup ignores them anyway.)"""
    deleted, _ = IdempotencyKey.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted
