"""The dashboard's session rules and response headers.

A dashboard session ends after DASHBOARD_IDLE_TIMEOUT_SECONDS without a request, and
DASHBOARD_ABSOLUTE_TIMEOUT_SECONDS after sign-in whatever the activity (the defaults, 15
minutes and 12 hours, follow OWASP's Session Management Cheat Sheet for sensitive
applications). Both are enforced here, server-side, on every request that carries the
session cookie, API requests included: the session authenticates the API too, so an
expired dashboard session must not keep working there.
"""

from __future__ import annotations

import time
import zoneinfo
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone

from backend.accounts.models import User

Handler = Callable[[HttpRequest], HttpResponse]

# Session keys written at sign-in (epoch seconds).
SIGNED_IN_AT_KEY = "dashboard_signed_in_at"
LAST_ACTIVITY_KEY = "dashboard_last_activity_at"

IDLE_TIMEOUT_SECONDS_DEFAULT = 15 * 60
ABSOLUTE_TIMEOUT_SECONDS_DEFAULT = 12 * 60 * 60

# Nothing from another host, no inline script or style: the pages need only their own
# stylesheet (and the empty data: favicon that stops the browser asking for one).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)

# The site-wide "no-referrer" makes browsers send `Origin: null` with a form post (Fetch
# standard, "serializing a request origin"), which Django's CSRF check rightly refuses; so
# the dashboard's forms would never work. "same-origin" sends the origin and referrer to
# this site only, and nothing to any other.
REFERRER_POLICY = "same-origin"

IDLE_MESSAGE = "You were signed out after inactivity. Sign in again to continue."
ABSOLUTE_MESSAGE = "You were signed out: a session lasts at most {hours} hours. Sign in again."


def idle_timeout_seconds() -> float:
    return float(getattr(settings, "DASHBOARD_IDLE_TIMEOUT_SECONDS", IDLE_TIMEOUT_SECONDS_DEFAULT))


def absolute_timeout_seconds() -> float:
    return float(
        getattr(settings, "DASHBOARD_ABSOLUTE_TIMEOUT_SECONDS", ABSOLUTE_TIMEOUT_SECONDS_DEFAULT)
    )


def dashboard_session_start(request: HttpRequest) -> None:
    """Mark the (already rotated) session as a dashboard sign-in, from now."""
    now = time.time()
    request.session[SIGNED_IN_AT_KEY] = now
    request.session[LAST_ACTIVITY_KEY] = now


def is_dashboard_session(request: HttpRequest) -> bool:
    return SIGNED_IN_AT_KEY in request.session


def _expiry_message(request: HttpRequest, now: float) -> str | None:
    """Why the session has ended, or None while it is still good."""
    signed_in_at = request.session.get(SIGNED_IN_AT_KEY)
    last_activity_at = request.session.get(LAST_ACTIVITY_KEY)
    if not isinstance(signed_in_at, int | float) or not isinstance(last_activity_at, int | float):
        return IDLE_MESSAGE
    if now - signed_in_at >= absolute_timeout_seconds():
        hours = round(absolute_timeout_seconds() / 3600)
        return ABSOLUTE_MESSAGE.format(hours=hours)
    if now - last_activity_at >= idle_timeout_seconds():
        return IDLE_MESSAGE
    return None


def _is_dashboard_path(request: HttpRequest) -> bool:
    return request.path_info.startswith(settings.DASHBOARD_URL)


class DashboardMiddleware:
    """Ends expired dashboard sessions, shows times in the therapist's zone, and sets the
    Content-Security-Policy and Referrer-Policy of every dashboard response.

    Place it after SessionMiddleware, AuthenticationMiddleware, OTPMiddleware and
    MessageMiddleware: it reads the session and the user and leaves a message.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        is_dashboard = _is_dashboard_path(request)
        expired = self._end_expired_session(request)
        if expired is not None and is_dashboard:
            messages.info(request, expired)
            login_url = reverse("dashboard:login")
            # Back to the page after signing in again (a form post is not repeated).
            response: HttpResponse = (
                redirect_to_login(request.get_full_path(), login_url)
                if request.method == "GET"
                else HttpResponseRedirect(login_url)
            )
        elif is_dashboard:
            response = self._in_therapist_zone(request)
        else:
            response = self.get_response(request)
        if is_dashboard:
            response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
            response["Referrer-Policy"] = REFERRER_POLICY
        return response

    def _end_expired_session(self, request: HttpRequest) -> str | None:
        """Sign an expired dashboard session out (flushing it) and say why; otherwise
        record this request as activity."""
        if not is_dashboard_session(request):
            return None
        now = time.time()
        message = _expiry_message(request, now)
        if message is not None:
            logout(request)
            return message
        request.session[LAST_ACTIVITY_KEY] = now
        return None

    def _in_therapist_zone(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if not isinstance(user, User):
            return self.get_response(request)
        try:
            zone = zoneinfo.ZoneInfo(user.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            zone = zoneinfo.ZoneInfo("UTC")
        timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
