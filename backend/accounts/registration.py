"""Accounts: registration that reveals nothing, and addresses proved by a code.

An account here says its owner is in ketamine-assisted therapy, so registration must not
tell anyone whether an address has one. Once the input is valid it answers the same for a
new and a taken address (and in the same time: backend.accounts.uniform), so it cannot
sign the device in at once:

- a new address gets an account whose address is not yet verified, and a code;
- the owner of a taken address gets an e-mail saying someone tried to register with it,
  and how to reset the password if it was them.

Confirming the code, with the password chosen at registration, is what signs the new
device in. Asking for both means that nobody who registered someone else's address can
have its owner confirm an account whose password they know; and until the code is typed
in, the account cannot sign in (403 `email_not_verified`, told only to the holder of the
password). Someone who registered an address they do not own blocks nobody: its owner
gets the "someone tried" e-mail when registering, and a password reset (which proves the
address too) makes the account theirs.

A change of address needs the password, sends a code to the new address and a notice to
the old one, and takes effect only when the code is typed in.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth import authenticate
from django.contrib.auth.hashers import make_password
from django.contrib.auth.signals import user_logged_in
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from backend.accounts import codes, emails, passwords, services, terms
from backend.accounts.models import AccountCode, CodePurpose, EmailChangeNotice, Role, User
from backend.errors import ProblemError
from backend.problem_codes import ProblemCode

EMAIL_UNAVAILABLE_DETAIL = "Another account took this address in the meantime."
# A registration not confirmed within this many days is deleted: its address is free again.
UNCONFIRMED_REGISTRATION_DAYS = 7


def _unverified_account(email: str) -> User | None:
    return User.objects.filter(
        email=services.email_normalized(email),
        is_active=True,
        erased_at__isnull=True,
        email_verified_at__isnull=True,
    ).first()


def _verification_send(user: User) -> None:
    account_code = codes.account_code_issue(user=user, purpose=CodePurpose.EMAIL_VERIFY)
    emails.account_email_queue(
        kind=emails.EmailKind.REGISTRATION_CODE, user=user, account_code=account_code
    )


def user_register(
    *,
    email: str,
    password: str,
    display_name: str,
    time_zone: str = "UTC",
    country: str = "",
    accepted_terms_version: str | None = None,
) -> None:
    """Register a patient, or tell the owner of a taken address; the caller answers the
    same either way. The password is checked against the rules first, with what was sent
    (not with a stored account), so that answer is the same for both too."""
    email = services.email_normalized(email)
    if accepted_terms_version is not None and accepted_terms_version != (
        terms.current_terms_version()
    ):
        # Checked before the address is looked at: the answer must not depend on it.
        terms.terms_accept(
            user=User(), version=accepted_terms_version, field="accepted_terms_version"
        )
    candidate = User(email=email, display_name=display_name, time_zone=time_zone, role=Role.PATIENT)
    passwords.password_validated(password=password, user=candidate, field="password")
    existing = User.objects.filter(email=email).first()
    if existing is None:
        try:
            with transaction.atomic():
                user = services.user_create_patient(
                    email=email,
                    password=password,
                    display_name=display_name,
                    time_zone=time_zone,
                    country=country,
                    email_verified=False,
                )
                if accepted_terms_version is not None:
                    terms.terms_accept(
                        user=user, version=accepted_terms_version, field="accepted_terms_version"
                    )
                _verification_send(user)
            return
        except services.EmailUnavailable:
            # A registration at the same moment took it: answer as for a taken address.
            existing = User.objects.filter(email=email).first()
    # The work a new account costs (an Argon2 hash), so the time tells nothing either.
    make_password(password)
    if existing is not None and existing.is_active and existing.erased_at is None:
        emails.account_email_queue(kind=emails.EmailKind.REGISTRATION_ATTEMPT, user=existing)


def registration_code_resend(*, email: str) -> None:
    """A new code for a registration not yet confirmed; nothing for any other address
    (the caller answers the same). The previous code ends."""
    user = _unverified_account(email)
    if user is None:
        return
    with transaction.atomic():
        _verification_send(user)


def user_register_confirm(
    *, request: HttpRequest, email: str, code: str, password: str, device_name: str = ""
) -> services.IssuedToken:
    """Type in the code with the password chosen at registration: the address is
    verified and this device signed in.

    The code is checked first (a wrong one counts a failed attempt); then the password,
    through `authenticate` as at sign-in (django-axes counts a wrong one).
    """
    user = _unverified_account(email)
    with transaction.atomic():
        verdict, _ = codes.account_code_check(
            user=user, purpose=CodePurpose.EMAIL_VERIFY, code=code
        )
    if verdict is not codes.Verdict.ACCEPTED or user is None:
        raise codes.code_refused(verdict)
    authenticated = authenticate(request=request, email=user.email, password=password)
    if authenticated is None or authenticated.pk != user.pk:
        services.raise_if_locked_out(request)
        raise services.invalid_credentials()
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(email_verified_at=timezone.now())
        user.refresh_from_db(fields=["email_verified_at"])
        AccountCode.objects.filter(user=user, purpose=CodePurpose.EMAIL_VERIFY).delete()
        issued = services.device_token_create(user=user, device_name=device_name)
    user_logged_in.send(sender=User, request=request, user=user)
    return issued


def email_change_request(*, user: User, password: str, new_email: str) -> None:
    """Send a code to the new address and a notice to the current one. A new address
    that another account has gets no code (and the answer is the same). The notice goes
    to the address the account has now, even if the worker sends it after the change."""
    services.password_confirm(user=user, password=password)
    new_email = services.email_normalized(new_email)
    with transaction.atomic():
        if not User.objects.filter(email=new_email).exists():
            account_code = codes.account_code_issue(
                user=user, purpose=CodePurpose.EMAIL_CHANGE, email=new_email
            )
            emails.account_email_queue(
                kind=emails.EmailKind.EMAIL_CHANGE_CODE, user=user, account_code=account_code
            )
        notice = EmailChangeNotice.objects.create(user=user, email=user.email)
        emails.account_email_queue(
            kind=emails.EmailKind.EMAIL_CHANGE_NOTICE, user=user, notice=notice
        )


def email_change_confirm(*, user: User, code: str) -> User:
    """Type in the code sent to the new address: from now on it is the account's, and
    every pending code of the account ends (those sent to the old address too)."""
    with transaction.atomic():
        verdict, account_code = codes.account_code_check(
            user=user, purpose=CodePurpose.EMAIL_CHANGE, code=code
        )
        if verdict is codes.Verdict.ACCEPTED and account_code is not None:
            try:
                with transaction.atomic():
                    User.objects.filter(pk=user.pk).update(
                        email=account_code.email, email_verified_at=timezone.now()
                    )
            except IntegrityError:
                raise ProblemError(
                    409, ProblemCode.EMAIL_UNAVAILABLE, EMAIL_UNAVAILABLE_DETAIL
                ) from None
            # This code, and every other one: a code sent to the old address (a password
            # reset) must not act on the account once that address is no longer its.
            codes.account_codes_end(user=user)
    if verdict is not codes.Verdict.ACCEPTED:
        raise codes.code_refused(verdict)
    user.refresh_from_db(fields=["email", "email_verified_at"])
    return user


def registrations_unconfirmed_purge(*, now: datetime) -> int:
    """The beat's hourly sweep: delete registrations never confirmed within
    UNCONFIRMED_REGISTRATION_DAYS (their address is free again; such an account never
    signed in, so it holds nothing of anyone's), codes expired a day ago, and notices of a
    change of address that the worker gave up sending a day ago. Returns how many
    accounts went."""
    AccountCode.objects.filter(expires_at__lt=now - timedelta(days=1)).delete()
    EmailChangeNotice.objects.filter(created_at__lt=now - timedelta(days=1)).delete()
    stale = User.objects.filter(
        role=Role.PATIENT,
        email_verified_at__isnull=True,
        last_login__isnull=True,
        is_staff=False,
        created_at__lt=now - timedelta(days=UNCONFIRMED_REGISTRATION_DAYS),
    )
    deleted = 0
    for user in stale.iterator():
        with transaction.atomic():
            # Checked again under the row's lock: a confirmation may have just landed.
            locked = (
                User.objects.select_for_update()
                .filter(pk=user.pk, email_verified_at__isnull=True, last_login__isnull=True)
                .first()
            )
            if locked is not None and not locked.auth_token_set.exists():
                locked.delete()
                deleted += 1
    return deleted
