"""Accounts: every write. Patients register; therapists are created by an operator and
enrol a password and an authenticator app with a one-time code; both sign in for a device
token."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils import timezone
from django.utils.module_loading import import_string
from django_otp import verify_token
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from knox.settings import CONSTANTS, knox_settings
from rest_framework.exceptions import NotFound, ValidationError

from backend.accounts.backends import is_marked_inactive
from backend.accounts.codes import account_codes_end
from backend.accounts.lifetimes import token_lifetime
from backend.accounts.lockout import (
    LOCKED_OUT_DETAIL,
    lockout_records_erase,
    lockout_retry_after_seconds,
)
from backend.accounts.models import DeviceToken, EmailChangeNotice, EnrolmentCode, Role, User
from backend.accounts.recovery import recovery_code_normalized, recovery_codes_create
from backend.errors import ProblemError
from backend.problem_codes import ProblemCode

ENROLMENT_CODE_TTL = timedelta(hours=72)
# 20 characters from 30 unambiguous ones: about 98 bits, so an unsalted SHA-256 of the
# code is safe to store, and the code is still easy to read out and type.
ENROLMENT_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"
ENROLMENT_CODE_LENGTH = 20
DEFAULT_DEVICE_NAME = "unnamed device"
TOTP_DEVICE_NAME = "Authenticator app"
TOTP_DIGITS = 6

EMAIL_UNUSABLE_MESSAGE = "This email address cannot be used."
EMAIL_NOT_VERIFIED_DETAIL = (
    "Confirm your address first: type in the code we sent to it "
    "(POST /api/v1/auth/register/confirm/), or ask for a new one "
    "(POST /api/v1/auth/register/resend/)."
)
ACCOUNT_INACTIVE_DETAIL = "This account is deactivated. Ask the service's support to reactivate it."
INVALID_PASSWORD_DETAIL = "The password is not correct."  # noqa: S105
INVALID_CREDENTIALS_DETAIL = "The email address, password or code is not correct."
INVALID_ENROLMENT_DETAIL = (
    "The email address or enrolment code is not correct, or the code was used or has expired."
)


@dataclass(frozen=True)
class IssuedToken:
    """A new device token. `token` is the secret: shown once, stored only as a hash."""

    user: User
    device: DeviceToken
    token: str


@dataclass(frozen=True)
class Enrolled:
    """A therapist who finished enrolment, and the recovery codes to show them once."""

    user: User
    recovery_codes: list[str]


@dataclass(frozen=True)
class NewTherapist:
    """A therapist account and the one-time enrolment code to hand to its owner."""

    user: User
    enrolment_code: str


def email_normalized(email: str) -> str:
    # Addresses are stored lower-case (UserManager), so look-ups and lock-out keys are too.
    return email.strip().lower()


def _field_errors(error: DjangoValidationError, field: str | None = None) -> ValidationError:
    if field is not None or not hasattr(error, "error_dict"):
        return ValidationError({field or "non_field_errors": list(error.messages)})
    return ValidationError({name: list(messages) for name, messages in error.message_dict.items()})


def password_confirm(*, user: User, password: str, field: str = "password") -> None:
    """The password re-entered by a signed-in person (a change of password or address,
    new recovery codes); a 400 `invalid_password` naming `field` when it is wrong."""
    if not user.check_password(password):
        raise ProblemError(
            400,
            ProblemCode.INVALID_PASSWORD,
            INVALID_PASSWORD_DETAIL,
            extra={"errors": {field: [INVALID_PASSWORD_DETAIL]}},
        )


def _password_validate(*, password: str, user: User) -> None:
    try:
        validate_password(password, user=user)
    except DjangoValidationError as error:
        raise _field_errors(error, "password") from error


class EmailUnavailable(ValidationError):
    """The address belongs to another account. Said to operators; registration answers
    the same for a taken address as for a new one (backend/accounts/registration.py)."""

    def __init__(self) -> None:
        super().__init__({"email": [EMAIL_UNUSABLE_MESSAGE]})


def _user_create(
    *,
    email: str,
    display_name: str,
    time_zone: str,
    role: Role,
    password: str | None,
    country: str = "",
    email_verified: bool = True,
) -> User:
    email = email_normalized(email)
    if User.objects.filter(email=email).exists():
        raise EmailUnavailable()
    user = User(
        email=email, display_name=display_name, time_zone=time_zone, role=role, country=country
    )
    # An operator vouches for the addresses of the accounts they make; a registration
    # proves its address with a code.
    user.email_verified_at = timezone.now() if email_verified else None
    if password is None:
        user.set_unusable_password()
    else:
        _password_validate(password=password, user=user)
        user.set_password(password)
    try:
        user.full_clean(validate_unique=False)
    except DjangoValidationError as error:
        raise _field_errors(error) from error
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as error:
        # A concurrent registration took the address between the check and the insert.
        raise EmailUnavailable() from error
    return user


def user_create_patient(
    *,
    email: str,
    password: str,
    display_name: str,
    time_zone: str = "UTC",
    email_verified: bool = True,
    country: str = "",
) -> User:
    """Make a patient account. A taken address raises `EmailUnavailable`.

    Registration (backend/accounts/registration.py) makes it with `email_verified=False`
    and answers the same for a taken address; demo data and operators make verified ones.
    """
    return _user_create(
        email=email,
        display_name=display_name,
        time_zone=time_zone,
        role=Role.PATIENT,
        password=password,
        country=country,
        email_verified=email_verified,
    )


def user_update(
    *,
    user: User,
    display_name: str | None = None,
    time_zone: str | None = None,
    country: str | None = None,
) -> User:
    """Change what a user may change about themselves. The email address is not one."""
    changed: list[str] = []
    if country is not None:
        user.country = country
        changed.append("country")
    if display_name is not None:
        user.display_name = display_name
        changed.append("display_name")
    if time_zone is not None:
        user.time_zone = time_zone
        changed.append("time_zone")
    if not changed:
        return user
    try:
        user.clean_fields(exclude=[f.name for f in User._meta.fields if f.name not in changed])
    except DjangoValidationError as error:
        raise _field_errors(error) from error
    with transaction.atomic():
        user.save(update_fields=changed)
        if "time_zone" in changed and user.is_patient:
            # The timeline plans in local time: it re-plans with the account, in the same
            # transaction (settings.ACCOUNT_TIME_ZONE_HOOKS; accounts import nothing above).
            for path in settings.ACCOUNT_TIME_ZONE_HOOKS:
                import_string(path)(patient=user)
    return user


def user_set_password(*, user: User, password: str, keep_token: DeviceToken | None = None) -> User:
    """Set a new password and end every token and session of the account, but for
    `keep_token` (the device that changed it, when the caller keeps it signed in)."""
    _password_validate(password=password, user=user)
    with transaction.atomic():
        user.set_password(password)
        user_end_all_sessions(user=user, keep_token=keep_token)
        user.save(update_fields=["password"])
    return user


def device_tokens_end(
    *, user: User, tokens: QuerySet[DeviceToken], every_sign_in: bool = False
) -> int:
    """Delete these tokens of the account, and in the same transaction retire what each
    sign-in carried (its push registration: settings.ACCOUNT_SIGN_OUT_HOOKS, as accounts
    import nothing above them). `every_sign_in`: no sign-in of the account is left.
    Every token deletion comes here: a sign-out, a revocation, a token replaced or expired,
    the end of every sign-in. Returns how many tokens were deleted."""
    with transaction.atomic():
        digests = list(tokens.values_list("digest", flat=True))
        if digests or every_sign_in:
            for path in settings.ACCOUNT_SIGN_OUT_HOOKS:
                import_string(path)(user=user, token_digests=digests, every_sign_in=every_sign_in)
        deleted: int = DeviceToken.objects.filter(digest__in=digests).delete()[0]
    return deleted


def user_end_all_sessions(*, user: User, keep_token: DeviceToken | None = None) -> int:
    """End every sign-in of the account at once: delete its device tokens (all but
    `keep_token`) and move its session epoch, which every session's auth hash mixes in
    (User.get_session_auth_hash), so each dashboard or API session fails Django's check on
    its next request and is flushed. Returns how many tokens were deleted.

    The one way to end sessions: "sign out everywhere", a new password, deactivation and
    erasure all come here (User.save calls it for a password or deactivation saved any
    other way, the admin included). Sessions are not indexed by user, and the epoch needs
    no index: one UPDATE, for any session backend.
    """
    with transaction.atomic():
        tokens = user.auth_token_set.all()
        if keep_token is not None:
            tokens = tokens.exclude(pk=keep_token.pk)
        deleted = device_tokens_end(user=user, tokens=tokens, every_sign_in=keep_token is None)
        User.objects.filter(pk=user.pk).update(session_epoch=F("session_epoch") + 1)
        user.refresh_from_db(fields=["session_epoch"])
    user.sessions_ended()
    return deleted


def device_token_create(
    *, user: User, device_name: str = "", is_second_factor_verified: bool = False
) -> IssuedToken:
    """Issue a token for one device.

    At most TOKEN_LIMIT_PER_USER tokens live at once: a new sign-in revokes the
    least recently used ones beyond that, so someone who lost their phones can still
    sign in (and then revoke the rest).
    """
    now = timezone.now()
    with transaction.atomic():
        tokens = user.auth_token_set.select_for_update()
        device_tokens_end(user=user, tokens=tokens.filter(expiry__lte=now))
        limit: int | None = knox_settings.TOKEN_LIMIT_PER_USER
        if limit is not None:
            live = list(
                tokens.filter(Q(expiry__gt=now) | Q(expiry__isnull=True))
                .order_by(Coalesce("last_used_at", "created").desc())
                .values_list("digest", flat=True)
            )
            if len(live) >= limit:
                surplus = DeviceToken.objects.filter(digest__in=live[limit - 1 :])
                device_tokens_end(user=user, tokens=surplus)
        device: DeviceToken
        device, token = DeviceToken.objects.create(
            user=user,
            expiry=token_lifetime(user).idle,
            device_name=device_name.strip() or DEFAULT_DEVICE_NAME,
            is_second_factor_verified=is_second_factor_verified,
        )
    return IssuedToken(user=user, device=device, token=token)


def raise_if_locked_out(request: HttpRequest) -> None:
    """Answer 429 if django-axes has locked out this (email, address) pair.

    Axes marks the request (`axes_locked_out`) when it refuses a locked-out pair or when
    a failure reaches AXES_FAILURE_LIMIT. Its middleware would then replace our answer
    with its own; we answer with a problem document here and clear the mark.
    """
    if not getattr(request, "axes_locked_out", False):
        return
    request.axes_locked_out = False  # type: ignore[attr-defined]
    seconds = lockout_retry_after_seconds(request)
    raise ProblemError(
        429,
        ProblemCode.LOCKED_OUT,
        LOCKED_OUT_DETAIL,
        extra={"retry_after_seconds": seconds},
        headers={"Retry-After": str(seconds)},
    )


def unauthorized(code: ProblemCode, detail: str) -> ProblemError:
    # A 401 names the scheme that would succeed (RFC 9110, section 15.5.2).
    return ProblemError(
        401, code, detail, headers={"WWW-Authenticate": knox_settings.AUTH_HEADER_PREFIX}
    )


def invalid_credentials() -> ProblemError:
    return unauthorized(ProblemCode.INVALID_CREDENTIALS, INVALID_CREDENTIALS_DETAIL)


def second_factor_verified(*, user: User, otp: str) -> bool:
    """Whether `otp` is a current code of one of the user's confirmed authenticators, or
    one of their unused recovery codes (which it then spends).

    No code, or no confirmed authenticator (a therapist between setting a password and
    confirming the app), is simply not verified: nothing here tells those cases apart.
    Six digits are tried as an authenticator's code, anything else as a recovery code, so
    that a try of one kind does not count against the other's failure throttle.
    """
    otp = otp.strip()
    if not otp:
        return False
    devices: list[TOTPDevice | StaticDevice]
    if len(otp) == TOTP_DIGITS and otp.isdigit():
        devices = list(TOTPDevice.objects.filter(user=user, confirmed=True))
    else:
        otp = recovery_code_normalized(otp)
        devices = list(StaticDevice.objects.filter(user=user, confirmed=True))
    # One device at a time through django_otp.verify_token, which locks the row so
    # that replay protection, spending and throttling hold under concurrent requests.
    return any(verify_token(user, device.persistent_id, otp) for device in devices)


def user_sign_in(
    *, request: HttpRequest, email: str, password: str, otp: str = "", device_name: str = ""
) -> IssuedToken:
    """Check a password (and for therapists a TOTP code) and issue a device token.

    The password goes through `django.contrib.auth.authenticate`, so django-axes counts
    failures per (email, address) and refuses locked-out pairs before any password check.
    For a therapist, a missing or wrong code, or no confirmed authenticator, counts as a
    failure too and answers exactly like a wrong password: a password cannot be tested
    without the second factor, and the answer does not say whose account needs one.
    """
    email = email_normalized(email)
    authenticated = authenticate(request=request, email=email, password=password)
    if not isinstance(authenticated, User) or authenticated.erased_at is not None:
        raise_if_locked_out(request)
        if is_marked_inactive(request):
            # The password was right: its holder may know that the account is off.
            raise ProblemError(403, ProblemCode.ACCOUNT_INACTIVE, ACCOUNT_INACTIVE_DETAIL)
        raise invalid_credentials()
    user = authenticated
    is_second_factor_verified = False
    if user.is_therapist:
        if not second_factor_verified(user=user, otp=otp):
            user_login_failed.send(sender=__name__, credentials={"email": email}, request=request)
            raise_if_locked_out(request)
            raise invalid_credentials()
        is_second_factor_verified = True
    if not user.is_email_verified:
        # Only the holder of the password learns this; it is not a failed sign-in.
        raise ProblemError(403, ProblemCode.EMAIL_NOT_VERIFIED, EMAIL_NOT_VERIFIED_DETAIL)
    issued = device_token_create(
        user=user,
        device_name=device_name,
        is_second_factor_verified=is_second_factor_verified,
    )
    # Records last_login, and tells axes to forget this pair's failures.
    user_logged_in.send(sender=User, request=request, user=user)
    return issued


def device_token_revoke(*, device: DeviceToken) -> None:
    """Revoke one token: the next request with it answers 401, and its device's push
    registration is retired."""
    device_tokens_end(user=device.user, tokens=DeviceToken.objects.filter(pk=device.pk))


def device_token_revoke_by_key(*, user: User, token_key: str) -> None:
    """Revoke one of the user's own tokens; someone else's answers 404, as a missing one."""
    # No key of another length names a token, and PostgreSQL refuses a NUL in a text
    # parameter (a 500): neither reaches the query.
    if len(token_key) != CONSTANTS.TOKEN_KEY_LENGTH or "\x00" in token_key:
        raise NotFound()
    deleted = device_tokens_end(user=user, tokens=user.auth_token_set.filter(token_key=token_key))
    if not deleted:
        raise NotFound()


def _enrolment_code_normalized(code: str) -> str:
    return "".join(character for character in code.upper() if character.isalnum())


def _enrolment_code_hash(code: str) -> str:
    return hashlib.sha256(_enrolment_code_normalized(code).encode()).hexdigest()


def enrolment_code_create(*, user: User) -> str:
    """A one-time enrolment code, valid for ENROLMENT_CODE_TTL. Only its hash is kept.
    It replaces any code the account was given before: that one expires now, so a code
    handed out earlier (lost, or read by someone else) cannot enrol after this one."""
    raw = "".join(secrets.choice(ENROLMENT_CODE_ALPHABET) for _ in range(ENROLMENT_CODE_LENGTH))
    now = timezone.now()
    with transaction.atomic():
        EnrolmentCode.objects.filter(user=user, used_at__isnull=True, expires_at__gt=now).update(
            expires_at=now
        )
        EnrolmentCode.objects.create(
            user=user, code_hash=_enrolment_code_hash(raw), expires_at=now + ENROLMENT_CODE_TTL
        )
    return "-".join(raw[index : index + 5] for index in range(0, len(raw), 5))


def therapist_create(*, email: str, display_name: str, time_zone: str = "UTC") -> NewTherapist:
    """A therapist with no usable password yet, and the code to enrol with."""
    with transaction.atomic():
        user = _user_create(
            email=email,
            display_name=display_name,
            time_zone=time_zone,
            role=Role.THERAPIST,
            password=None,
        )
        code = enrolment_code_create(user=user)
    return NewTherapist(user=user, enrolment_code=code)


def totp_device_create(*, user: User, confirmed: bool) -> TOTPDevice:
    device: TOTPDevice = TOTPDevice.objects.create(
        user=user, name=TOTP_DEVICE_NAME, confirmed=confirmed
    )
    return device


def therapist_create_enrolled(
    *, email: str, display_name: str, password: str, time_zone: str = "UTC"
) -> tuple[User, TOTPDevice]:
    """A therapist who can sign in at once, for demos: no enrolment code involved."""
    with transaction.atomic():
        user = _user_create(
            email=email,
            display_name=display_name,
            time_zone=time_zone,
            role=Role.THERAPIST,
            password=password,
        )
        device = totp_device_create(user=user, confirmed=True)
    return user, device


def staff_totp_device_create(*, user: User, replace: bool = False) -> TOTPDevice:
    """An authenticator app for a staff account: the admin's second factor.

    For an operator's command on the server, which shows the secret once: the device is
    confirmed at once. An account that has one keeps it unless `replace` says otherwise
    (a lost phone), so that running the command twice cannot silently swap the app.
    """
    if not user.is_staff or not user.is_active:
        raise ValidationError({"email": ["Not an active staff account."]})
    with transaction.atomic():
        devices = TOTPDevice.objects.select_for_update().filter(user=user)
        if devices.filter(confirmed=True).exists() and not replace:
            raise ValidationError(
                {"email": ["This account has an authenticator app already: --replace it."]}
            )
        devices.delete()
        return totp_device_create(user=user, confirmed=True)


def _enrolment_code_usable(*, email: str, code: str) -> EnrolmentCode:
    """The usable code for this therapist, locked for update; one answer for every miss
    (unknown address, wrong code, used, expired) so nothing tells them apart."""
    enrolment: EnrolmentCode | None = (
        EnrolmentCode.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(
            user__email=email_normalized(email),
            user__role=Role.THERAPIST,
            code_hash=_enrolment_code_hash(code),
            used_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .first()
    )
    if enrolment is None:
        raise ProblemError(400, ProblemCode.INVALID_ENROLMENT_CODE, INVALID_ENROLMENT_DETAIL)
    return enrolment


def therapist_enrol(*, email: str, code: str, password: str) -> TOTPDevice:
    """Set the therapist's password and start an authenticator app (unconfirmed).

    The code stays usable until `therapist_enrol_confirm`, so a therapist who lost the
    QR code can start again; each start replaces the unconfirmed device.
    """
    with transaction.atomic():
        enrolment = _enrolment_code_usable(email=email, code=code)
        user = enrolment.user
        user_set_password(user=user, password=password)
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        return totp_device_create(user=user, confirmed=False)


def therapist_enrol_confirm(*, email: str, code: str, otp: str) -> Enrolled:
    """Confirm the authenticator app with a current code; the enrolment code is spent and
    a set of recovery codes is made (the previous set, if any, ends)."""
    with transaction.atomic():
        enrolment = _enrolment_code_usable(email=email, code=code)
        user = enrolment.user
        device: TOTPDevice | None = (
            TOTPDevice.objects.select_for_update()
            .filter(user=user, confirmed=False)
            .order_by("-id")
            .first()
        )
        if device is None:
            raise ProblemError(
                409,
                ProblemCode.ENROLMENT_NOT_STARTED,
                "Start enrolment at POST /api/v1/auth/enrol/ first.",
            )
        # Checked without raising inside the transaction, so that django-otp's failure
        # count (its brute-force throttle) is kept.
        is_verified: bool = device.verify_token(otp)
        if is_verified:
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
            enrolment.used_at = timezone.now()
            enrolment.save(update_fields=["used_at"])
            recovery_codes = recovery_codes_create(user=user)
    if not is_verified:
        raise ProblemError(
            400,
            ProblemCode.INVALID_OTP,
            "The code from the authenticator app is not correct. Check the phone's clock.",
        )
    return Enrolled(user=user, recovery_codes=recovery_codes)


def user_erase(*, user: User, password: str) -> User:
    """Erase an account: the password re-entered, then, in one transaction, every erasure
    hook runs (the journal destroys the patient's data keys: crypto-shredding), every token
    and session ends (`user_end_all_sessions`), and the account is marked erased and
    stripped of its email and name (django-axes' records under the address and pending
    codes go too).

    The hooks are named in settings.ACCOUNT_ERASURE_HOOKS so that accounts need not import
    the apps built on them (imports flow journal -> accounts).
    """
    if not user.check_password(password):
        raise ValidationError({"password": ["The password is not correct."]})
    with transaction.atomic():
        for path in settings.ACCOUNT_ERASURE_HOOKS:
            import_string(path)(user=user)
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        # django-axes logs each sign-in under the address: it goes with the account's, as
        # do pending codes (a change of address holds the new one) and notices not yet
        # sent (each holds an address the account had).
        lockout_records_erase(email=user.email)
        account_codes_end(user=user)
        EmailChangeNotice.objects.filter(user=user).delete()
        user.email = f"erased-{user.pk}@erased.invalid"
        user.display_name = ""
        user.set_unusable_password()
        user.is_active = False
        user.erased_at = timezone.now()
        user_end_all_sessions(user=user)
        user.save(update_fields=["email", "display_name", "password", "is_active", "erased_at"])
    return user
