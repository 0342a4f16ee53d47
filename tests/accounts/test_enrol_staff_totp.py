"""`manage.py enrol_staff_totp`: the authenticator app that the admin asks a code of."""

from __future__ import annotations

import base64
import io
import re
import time

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.accounts.factories import PatientFactory, TOTPDeviceFactory, UserFactory
from tests.accounts.helpers import admin_sign_in

pytestmark = pytest.mark.django_db

STAFF = "staff@example.org"


def _enrol(*args: str) -> str:
    out = io.StringIO()
    call_command("enrol_staff_totp", *args, stdout=out)
    return out.getvalue()


def _code(secret: str) -> str:
    totp = TOTP(base64.b32decode(secret), step=30, digits=6)
    totp.time = time.time()
    return f"{totp.token():06d}"


@pytest.mark.usefixtures("admin_enabled")
def test_staff_sign_in_to_the_admin_with_the_app_it_prints():
    UserFactory.create(email=STAFF, is_staff=True)

    output = _enrol("--email", "Staff@Example.org")

    match = re.search(r"TOTP secret \(base32\): ([A-Z2-7]+)", output)
    assert match is not None, output
    assert "otpauth://totp/" in output
    browser = Client(enforce_csrf_checks=True)
    response = admin_sign_in(browser, STAFF, code=_code(match.group(1)))
    assert response.status_code == 302, response.content


def test_an_account_that_is_not_staff_gets_no_app():
    PatientFactory.create(email="anna@example.org")

    with pytest.raises(CommandError, match="Not an active staff account"):
        _enrol("--email", "anna@example.org")

    assert not TOTPDevice.objects.exists()


def test_an_existing_app_is_replaced_only_when_asked():
    staff = UserFactory.create(email=STAFF, is_staff=True)
    first = TOTPDeviceFactory.create(user=staff)

    with pytest.raises(CommandError, match="--replace"):
        _enrol("--email", STAFF)
    assert list(TOTPDevice.objects.all()) == [first]

    _enrol("--email", STAFF, "--replace")

    [replacement] = TOTPDevice.objects.filter(user=staff)
    assert replacement.pk != first.pk
    assert replacement.confirmed is True
