"""The sign-in lock-out's hooks into django-axes (named in settings, AXES_*_CALLABLE).

Every way in, the API (`email`), the dashboard (`email`) and the Django admin (its form
posts `username`), counts failures under one identity: the address, trimmed and
lower-case, together with the network address. Log lines name the account by a keyed
digest, never by its address. A locked-out pair that reaches axes' middleware (the admin;
the API and the dashboard answer in their own words first) gets a problem document.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from axes.helpers import get_cool_off
from django.http import HttpRequest, HttpResponse

from backend.errors import problem_response
from backend.logging import address_digest
from backend.problem_codes import ProblemCode

# The fields that name the account, in order: our forms and the API send `email`,
# Django's authentication forms (the admin's) send `username`.
IDENTITY_FIELDS = ("email", "username")
LOCKED_OUT_DETAIL = "Too many failed sign-ins for this account from this address. Try again later."


def _identity_in(source: Mapping[str, Any] | None) -> str | None:
    for field in IDENTITY_FIELDS:
        value = source.get(field) if source is not None else None
        if isinstance(value, str) and value.strip():
            return value.strip().lower()
    return None


def lockout_username(request: HttpRequest, credentials: Mapping[str, Any] | None) -> str | None:
    """AXES_USERNAME_CALLABLE: the account a sign-in names, as sign-in compares it.

    From the credentials given to `authenticate()` or the failure signal; when axes has
    none (its middleware), from the posted form.
    """
    identity = _identity_in(credentials)
    if identity is None and request is not None:
        identity = _identity_in(getattr(request, "data", None) or request.POST)
    return identity


def lockout_log_client(
    username: str | None,
    ip_address: str,
    user_agent: str,
    path_info: str | tuple[str, ...] | list[str],
    request: HttpRequest,
) -> str:
    """AXES_CLIENT_STR_CALLABLE: how axes' log lines name a sign-in, without its address."""
    account = address_digest(username) if username else "none"
    path = path_info[0] if isinstance(path_info, tuple | list) else path_info
    return f'{{account: "{account}", ip_address: "{ip_address}", path_info: "{path}"}}'


def lockout_retry_after_seconds(request: HttpRequest) -> int:
    # Every attempt during a lock-out restarts the cool-off (axes'
    # AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT), so the wait is the whole cool-off.
    return int(get_cool_off(request).total_seconds())


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: Mapping[str, Any] | None = None,
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: 429 `locked_out` as a problem document, as the API answers."""
    seconds = lockout_retry_after_seconds(request)
    return problem_response(
        429,
        code=ProblemCode.LOCKED_OUT,
        detail=LOCKED_OUT_DETAIL,
        extra={"retry_after_seconds": seconds},
        headers={"Retry-After": str(seconds)},
    )


def lockout_clear(*, email: str) -> int:
    """Forget every failed sign-in of this account, from any network address (django-axes'
    own reset): after a password reset, and for an operator's unlock. Returns how many
    attempt records went."""
    # Imported here: axes' utilities read its settings on import.
    from axes.utils import reset

    removed: int = reset(username=_username(email))
    return removed


def lockout_records_erase(*, email: str) -> None:
    """Delete every record django-axes keeps under this address: its failed attempts and
    its log of sign-ins (each with the address, network address and browser). For an
    erasure, which must leave the address nowhere."""
    # Imported here: axes' models need the app registry, which this module does not.
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    for model in (AccessAttempt, AccessFailureLog, AccessLog):
        model.objects.filter(username=_username(email)).delete()


def _username(email: str) -> str:
    """The account name django-axes keeps records under: the address as accounts store it."""
    return email.strip().lower()
