"""Therapists' recovery codes: ten single-use codes that sign in in place of a code from
the authenticator app, for the day the phone is lost.

django-otp's static-token plugin keeps them (a `StaticDevice` with its `StaticToken`s):
its verification locks the device, spends a code as it matches, and throttles failures,
as the TOTP device does. A set is shown once, at enrolment and on each re-generation,
which ends the previous set. Like the TOTP secret beside them, django-otp stores the codes
as they are; either is only a second factor, worth nothing without the password.
"""

from __future__ import annotations

from django.db import transaction
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

from backend.accounts.models import User
from backend.errors import ProblemError
from backend.problem_codes import ProblemCode

RECOVERY_CODE_COUNT = 10
RECOVERY_DEVICE_NAME = "Recovery codes"


def recovery_code_normalized(typed: str) -> str:
    """A code as stored: lower case, without the spaces or dashes a person may add."""
    return "".join(c for c in typed.lower() if c.isalnum())


def recovery_codes_create(*, user: User) -> list[str]:
    """A new set of recovery codes for a therapist; the previous set ends. Returns the
    codes, to be shown once."""
    if not user.is_therapist:
        raise ProblemError(
            403, ProblemCode.PERMISSION_DENIED, "Only therapists have recovery codes."
        )
    with transaction.atomic():
        StaticDevice.objects.filter(user=user).delete()
        device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
        codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
        StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def recovery_codes_regenerate(*, user: User, password: str) -> list[str]:
    """A therapist asks for a new set, re-entering the password."""
    # Imported here: services imports this module for sign-in.
    from backend.accounts.services import password_confirm

    password_confirm(user=user, password=password)
    return recovery_codes_create(user=user)


def recovery_codes_remaining(*, user: User) -> int:
    """How many unused recovery codes the account has."""
    remaining: int = StaticToken.objects.filter(device__user=user, device__confirmed=True).count()
    return remaining


def recovery_codes_end(*, user: User) -> None:
    """End the account's recovery codes (an operator's reset, an erasure)."""
    StaticDevice.objects.filter(user=user).delete()
