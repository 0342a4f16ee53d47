"""Permissions shared by every API view."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from backend.accounts.models import DeviceToken, Role
from backend.problem_codes import ProblemCode


def has_second_factor(request: Request) -> bool:
    """Whether this request's sign-in passed TOTP: recorded on the API token, or by
    django-otp on the session for the web dashboard."""
    if isinstance(request.auth, DeviceToken):
        return request.auth.is_second_factor_verified
    is_verified = getattr(request.user, "is_verified", None)
    return bool(is_verified and is_verified())


class IsAuthenticatedWithSecondFactor(BasePermission):
    """Signed in, and for therapists (who read other people's journals) with TOTP."""

    message = "Sign in with your authenticator app code to do this."
    code = ProblemCode.SECOND_FACTOR_REQUIRED

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if getattr(user, "role", None) == Role.THERAPIST:
            return has_second_factor(request)
        return True


class IsPatient(BasePermission):
    message = "Only patients can do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user.is_authenticated and request.user.role == Role.PATIENT)


class IsTherapist(BasePermission):
    message = "Only therapists signed in with a second factor can do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(
            request.user.is_authenticated
            and request.user.role == Role.THERAPIST
            and has_second_factor(request)
        )
