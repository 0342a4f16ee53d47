"""The Django admin's site: staff only, and only with a verified second factor.

The admin is off unless an operator sets ADMIN_ENABLED (backend/urls.py). When it is on,
it is django-otp's `OTPAdminSite` (every page requires a session verified by one of the
user's authenticators), installed as the default site (`AdminConfig` in apps.py), so
every `@admin.register` lands on it.

Its sign-in form is django-otp's admin form in one step, like the dashboard's: email,
password and the authenticator code together. Every refusal (wrong password, no or
wrong code, no authenticator, not staff) answers with the same message, and each one
that `authenticate()` did not already count is counted for the lock-out here, under the
same account (backend/accounts/lockout.py). The stock two-step form would answer a right
password differently (it lists the user's devices and writes the password back into
the page), which would let anyone test passwords without the second factor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib.admin import AdminSite as DjangoAdminSite
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest, QueryDict
from django_otp import verify_token
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite

from backend.accounts import selectors
from backend.accounts.forms import AddressField
from backend.accounts.models import User

# django-otp has no type information: the type checker sees the Django classes they extend.
if TYPE_CHECKING:
    _OTPAdminAuthenticationForm = AdminAuthenticationForm
    _OTPAdminSite = DjangoAdminSite
else:
    _OTPAdminAuthenticationForm = OTPAdminAuthenticationForm
    _OTPAdminSite = OTPAdminSite

REFUSED_MESSAGE = (
    "Please enter the correct email address, password and authenticator code for a staff account."
)


class AdminSignInForm(_OTPAdminAuthenticationForm):
    error_messages = {
        **_OTPAdminAuthenticationForm.error_messages,
        "invalid_login": REFUSED_MESSAGE,
    }

    # Addresses are stored lower-case: matched as the API and the dashboard match them,
    # and checked for length once lower-cased (the lock-out stores the account tried).
    username = AddressField(
        widget=forms.TextInput(
            attrs={"autofocus": True, "autocapitalize": "none", "autocomplete": "username"}
        )
    )

    def __init__(self, request: HttpRequest | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)
        self.fields["otp_token"].widget.attrs.update(
            {"autocomplete": "one-time-code", "inputmode": "numeric"}
        )

    def clean(self) -> dict[str, Any]:
        try:
            return super().clean()
        except forms.ValidationError:
            if self.user_cache is not None:
                # The password was right, so authenticate() counted nothing: count the
                # refusal of the code or of the account here.
                user_login_failed.send(
                    sender=__name__,
                    credentials={"username": self.cleaned_data.get("username")},
                    request=self.request,
                )
            # Forget the user, so the page shows nothing that only a right password gets,
            # and show the code field empty again: a refused code is wrong or spent.
            self.user_cache = None
            if isinstance(self.data, QueryDict):
                data = self.data.copy()
                data["otp_token"] = ""
                self.data = data
            raise self.get_invalid_login_error() from None

    def clean_otp(self, user: User | None) -> None:
        """One step: the code is checked against the user's confirmed authenticator."""
        if user is None:
            return
        code = str(self.cleaned_data.get("otp_token") or "")
        device = selectors.totp_device_confirmed_for_user(user=user)
        # django_otp.verify_token locks the device row, so its replay protection and
        # failure throttle hold when two sign-ins race.
        verified = verify_token(user, device.persistent_id, code) if device and code else None
        if verified is None:
            raise forms.ValidationError(REFUSED_MESSAGE, code="invalid_login")
        # django-otp marks the session verified with this device when login() runs.
        user.otp_device = verified  # type: ignore[attr-defined]


class AdminSite(_OTPAdminSite):
    """`OTPAdminSite` under the usual name, so `admin:` URLs and templates work as ever."""

    login_form = AdminSignInForm
    site_header = "Afterglow administration"
    site_title = "Afterglow admin"

    def __init__(self, name: str = "admin") -> None:
        super().__init__(name)
