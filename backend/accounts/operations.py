"""Accounts: what an operator does from the server (management commands), each a service
so that the commands stay thin."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from backend.accounts import recovery, services
from backend.accounts.lockout import lockout_clear
from backend.accounts.models import User
from backend.errors import ProblemError
from backend.problem_codes import ProblemCode


@dataclass(frozen=True)
class Ended:
    """What ending an account's sign-ins did."""

    user: User
    tokens_ended: int


def account_unlock(*, user: User) -> int:
    """django-axes' reset for this account, from every network address; returns how many
    attempt records went."""
    return lockout_clear(email=user.email)


def account_deactivate(*, user: User) -> Ended:
    """The account can no longer sign in: every token and session ends in the same
    transaction, and sign-in answers 403 `account_inactive`, to the holder of the
    password only."""
    with transaction.atomic():
        user.is_active = False
        tokens = services.user_end_all_sessions(user=user)
        user.save(update_fields=["is_active"])
    return Ended(user=user, tokens_ended=tokens)


def account_reactivate(*, user: User) -> User:
    """The account may sign in again (with its password; no token comes back)."""
    if user.erased_at is not None:
        raise ProblemError(409, ProblemCode.ACCOUNT_ERASED, "An erased account cannot come back.")
    User.objects.filter(pk=user.pk).update(is_active=True)
    user.refresh_from_db(fields=["is_active"])
    return user


def therapist_second_factor_reset(*, user: User) -> services.NewTherapist:
    """A therapist lost the authenticator app and the recovery codes: both end, every
    sign-in ends, and a new enrolment code lets them set a password and enrol again."""
    if not user.is_therapist:
        raise ProblemError(
            400, ProblemCode.NOT_A_THERAPIST, "Only a therapist has a second factor here."
        )
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        recovery.recovery_codes_end(user=user)
        services.user_end_all_sessions(user=user)
        code = services.enrolment_code_create(user=user)
    return services.NewTherapist(user=user, enrolment_code=code)
