"""Accounts: a new password, changed while signed in or reset with a code sent by e-mail.

A new password ends every other sign-in of the account (`user_set_password`, through
`user_end_all_sessions`), ends every pending code, and the owner gets an e-mail saying so.
The journal does not depend on the password: a patient's data key is wrapped by the
service's key-encryption keys, never by a key derived from the password, so a reset
leaves every entry readable (docs/architecture.md, "Key hierarchy").
"""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone

from backend.accounts import codes, emails, services
from backend.accounts.lockout import lockout_clear
from backend.accounts.models import CodePurpose, DeviceToken, User
from backend.errors import ProblemError
from backend.problem_codes import ProblemCode

PASSWORD_TOO_WEAK_DETAIL = "The new password is too weak: see 'errors'."  # noqa: S105


def password_validated(*, password: str, user: User, field: str = "new_password") -> None:
    """Django's validators, as at registration; a 400 `password_too_weak` naming `field`."""
    try:
        validate_password(password, user=user)
    except DjangoValidationError as error:
        raise ProblemError(
            400,
            ProblemCode.PASSWORD_TOO_WEAK,
            PASSWORD_TOO_WEAK_DETAIL,
            extra={"errors": {field: list(error.messages)}},
        ) from error


def _password_replace(*, user: User, password: str, keep_token: DeviceToken | None) -> None:
    password_validated(password=password, user=user)
    services.user_set_password(user=user, password=password, keep_token=keep_token)
    codes.account_codes_end(user=user)
    emails.account_email_queue(kind=emails.EmailKind.PASSWORD_CHANGED, user=user)


def user_change_password(
    *,
    user: User,
    current_password: str,
    new_password: str,
    keep_token: DeviceToken | None = None,
) -> User:
    """A signed-in person sets a new password. Every other token and session ends;
    `keep_token` (the device that asked) keeps working."""
    services.password_confirm(user=user, password=current_password, field="current_password")
    with transaction.atomic():
        _password_replace(user=user, password=new_password, keep_token=keep_token)
    return user


def _account_for_address(email: str) -> User | None:
    """An account that may receive a code: active, not erased. One query, whatever the
    answer, so that the look-up costs the same for a known and an unknown address."""
    return User.objects.filter(
        email=services.email_normalized(email), is_active=True, erased_at__isnull=True
    ).first()


def password_reset_request(*, email: str) -> None:
    """Send a reset code to this address if it belongs to an account; nothing otherwise.

    The caller answers the same either way (and in the same time: backend.accounts.uniform),
    so this says nothing about the address. A new request replaces the previous code.
    """
    user = _account_for_address(email)
    if user is None:
        return
    with transaction.atomic():
        account_code = codes.account_code_issue(user=user, purpose=CodePurpose.PASSWORD_RESET)
        emails.account_email_queue(
            kind=emails.EmailKind.PASSWORD_RESET, user=user, account_code=account_code
        )


def password_reset_confirm(*, email: str, code: str, new_password: str) -> User:
    """Set a new password with the code from the e-mail.

    Then every token and session of the account ends (the therapist's TOTP stays: signing
    in still needs it), the account's lock-out is cleared, and the code is spent. A wrong
    code counts a failed attempt even though the answer is a refusal; the new password is
    checked only once the code is right, so a refusal says nothing about the account.
    """
    user = _account_for_address(email)
    with transaction.atomic():
        verdict, _ = codes.account_code_check(
            user=user, purpose=CodePurpose.PASSWORD_RESET, code=code
        )
        if verdict is codes.Verdict.ACCEPTED and user is not None:
            _password_replace(user=user, password=new_password, keep_token=None)
            if not user.is_email_verified:
                # The code came to the address: it is proved, as a registration's code
                # would prove it (and an account someone else registered with it is
                # now its owner's).
                User.objects.filter(pk=user.pk).update(email_verified_at=timezone.now())
    if verdict is not codes.Verdict.ACCEPTED or user is None:
        raise codes.code_refused(verdict)
    lockout_clear(email=user.email)
    return user
