"""The dashboard's forms: sign-in with email, password and the authenticator code (or a
recovery code); a forgotten password, a new one, new recovery codes.

Like Django's own AuthenticationForm, the form authenticates in `clean()`: the password
goes through `django.contrib.auth.authenticate`, so django-axes counts failures per
(email, address) and refuses a locked-out pair before any password check. Every refusal
after that (not a therapist, no authenticator app, wrong code) is counted as a failure
too, and answers with the same message as a wrong password.
"""

from __future__ import annotations

from typing import Any, TypeGuard

import django_otp
from axes.helpers import get_cool_off
from django import forms
from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_login_failed
from django.core.validators import RegexValidator
from django.http import HttpRequest, QueryDict
from django_otp.models import Device

from backend.accounts import selectors as account_selectors
from backend.accounts.forms import AddressField
from backend.accounts.models import User
from backend.accounts.recovery import recovery_code_normalized
from backend.accounts.services import INVALID_CREDENTIALS_DETAIL

CODE_LENGTH = 6
LOCKED_OUT_CODE = "locked_out"


def may_use_dashboard(user: object) -> TypeGuard[User]:
    """Therapists only: not patients, not staff (staff never read patients' words)."""
    return (
        isinstance(user, User)
        and user.is_therapist
        and user.is_active
        and not user.is_staff
        and user.erased_at is None
    )


def _account_email_field() -> AddressField:
    """The account's e-mail address, as every sign-in and password form asks for it:
    lower-case, and at most 254 characters once lower-cased."""
    return AddressField(
        label="Email address",
        widget=forms.EmailInput(attrs={"autocomplete": "username"}),
    )


class SignInForm(forms.Form):
    email = _account_email_field()
    password = forms.CharField(
        label="Password",
        max_length=256,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    code = forms.CharField(
        label="Code from your authenticator app",
        help_text=(
            f"The {CODE_LENGTH} digits your authenticator app shows now, or one of your "
            "recovery codes."
        ),
        # One rule, one message (no separate length messages).
        validators=[
            RegexValidator(
                r"^([0-9]{6}|[A-Za-z0-9 -]{8,20})$",
                message=f"Enter the {CODE_LENGTH} digits, or a recovery code.",
            )
        ],
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "maxlength": 20,
                "size": 12,
            }
        ),
    )

    def __init__(self, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        self.request = request
        self.user: User | None = None
        self.device: Device | None = None
        self.used_recovery_code = False
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        email, password, code = (cleaned.get(name) for name in ("email", "password", "code"))
        if not (email and password and code):
            return cleaned  # the field errors say what is missing
        email = str(email).strip().lower()
        authenticated = authenticate(self.request, email=email, password=password)
        device = self._verified_device(authenticated, str(code))
        if device is None:
            if authenticated is not None:
                # authenticate() counted a wrong password; count every other refusal too.
                user_login_failed.send(
                    sender=__name__, credentials={"email": email}, request=self.request
                )
            # A refused code is wrong or spent either way: show the field empty again.
            if isinstance(self.data, QueryDict):
                data = self.data.copy()
                data["code"] = ""
                self.data = data
            raise self._refusal()
        # The user authenticate() returned: it carries the backend that login() records.
        self.user, self.device = authenticated, device
        return cleaned

    def _verified_device(self, user: object, code: str) -> Device | None:
        if not may_use_dashboard(user):
            return None
        device: Device | None
        if len(code) == CODE_LENGTH and code.isdigit():
            device = account_selectors.totp_device_confirmed_for_user(user=user)
        else:
            # A recovery code: spent by the check (and counted by its own throttle).
            code = recovery_code_normalized(code)
            device = account_selectors.recovery_device_for_user(user=user)
            self.used_recovery_code = True
        if device is None:
            return None
        # django_otp.verify_token locks the device row, so its replay protection and
        # failure throttle hold when two sign-ins race.
        verified: Device | None = django_otp.verify_token(user, device.persistent_id, code)
        return verified

    def _refusal(self) -> forms.ValidationError:
        if getattr(self.request, "axes_locked_out", False):
            # Answered here, in the page's own words, instead of axes' plain-text response.
            self.request.axes_locked_out = False  # type: ignore[attr-defined]
            minutes = max(1, round(get_cool_off(self.request).total_seconds() / 60))
            return forms.ValidationError(
                "Too many failed sign-ins for this account from this address. "
                f"Try again in {minutes} minutes.",
                code=LOCKED_OUT_CODE,
            )
        return forms.ValidationError(INVALID_CREDENTIALS_DETAIL, code="invalid_credentials")

    @property
    def is_locked_out(self) -> bool:
        return any(
            error.code == LOCKED_OUT_CODE for error in self.errors.as_data().get("__all__", [])
        )


def _password_input(autocomplete: str) -> forms.PasswordInput:
    return forms.PasswordInput(attrs={"autocomplete": autocomplete})


class NewPasswordForm(forms.Form):
    """A new password, typed twice. The rules are the service's (the API's wording)."""

    new_password = forms.CharField(
        label="New password",
        max_length=1024,
        strip=False,
        help_text="At least 10 characters; not a common password, nor only digits.",
        widget=_password_input("new-password"),
    )
    new_password_again = forms.CharField(
        label="New password, again",
        max_length=1024,
        strip=False,
        widget=_password_input("new-password"),
    )

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        first, second = cleaned.get("new_password"), cleaned.get("new_password_again")
        if first and second and first != second:
            self.add_error("new_password_again", "The two passwords are not the same.")
        return cleaned


class ForgotPasswordForm(forms.Form):
    email = _account_email_field()


class ResetPasswordForm(NewPasswordForm):
    email = _account_email_field()
    code = forms.CharField(
        label="Code from the e-mail",
        max_length=32,
        help_text="8 digits; the space does not matter.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )
    field_order = ["email", "code", "new_password", "new_password_again"]


class ChangePasswordForm(NewPasswordForm):
    current_password = forms.CharField(
        label="Current password",
        max_length=1024,
        strip=False,
        widget=_password_input("current-password"),
    )
    field_order = ["current_password", "new_password", "new_password_again"]


class ConfirmPasswordForm(forms.Form):
    password = forms.CharField(
        label="Your password",
        max_length=1024,
        strip=False,
        widget=_password_input("current-password"),
    )
