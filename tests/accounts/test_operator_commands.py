"""Operators' commands: unlock an account, deactivate and reactivate it, reset a
therapist's second factor. Each prints what it did."""

from __future__ import annotations

import io

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from backend.accounts import recovery
from backend.accounts.models import DeviceToken, User
from tests.accounts.factories import issue_token, totp_code
from tests.accounts.helpers import assert_problem, authorized, login, without_request_id
from tests.accounts.test_therapist_enrolment import CONFIRM, ENROL, app_code, printed_code
from tests.accounts.test_therapist_enrolment import PASSWORD as ENROL_PASSWORD

pytestmark = pytest.mark.django_db

WRONG = "not-the-password-1"


def run(name: str, email: str) -> str:
    out = io.StringIO()
    call_command(name, "--email", email, stdout=out)
    return out.getvalue()


def test_unlock_account_clears_the_lock_out(api_client, patient):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(api_client, "anna@example.org", WRONG)
    assert_problem(login(api_client, "anna@example.org"), 429, "locked_out")

    output = run("unlock_account", "Anna@Example.org")

    assert f"Unlocked account {patient.pk}" in output
    assert "1 failed sign-in record(s) cleared" in output
    assert login(api_client, "anna@example.org").status_code == 200


def test_deactivate_account_ends_every_sign_in_and_tells_only_the_password_holder(
    api_client, patient
):
    token = issue_token(patient)

    output = run("deactivate_account", "anna@example.org")

    assert f"Deactivated account {patient.pk} (patient): 1 token(s) ended" in output
    assert_problem(authorized(token).get("/api/v1/me/"), 401, "authentication_failed")
    assert DeviceToken.objects.count() == 0
    assert_problem(login(api_client, "anna@example.org"), 403, "account_inactive")
    wrong = login(api_client, "anna@example.org", WRONG)
    unknown = login(api_client, "nobody@example.org", WRONG)
    assert without_request_id(assert_problem(wrong, 401, "invalid_credentials")) == (
        without_request_id(assert_problem(unknown, 401, "invalid_credentials"))
    )


def test_reactivate_account_lets_it_sign_in_again(api_client, patient):
    run("deactivate_account", "anna@example.org")

    output = run("reactivate_account", "anna@example.org")

    assert f"Reactivated account {patient.pk} (patient)" in output
    assert login(api_client, "anna@example.org").status_code == 200


def test_reset_therapist_totp_ends_the_app_and_codes_and_lets_them_enrol_again(
    api_client, therapist, therapist_device
):
    recovery.recovery_codes_create(user=therapist)
    token = issue_token(therapist, second_factor=True)

    output = run("reset_therapist_totp", "dr.berg@example.org")

    assert f"Second factor reset for therapist {therapist.pk}" in output
    assert not TOTPDevice.objects.filter(user=therapist).exists()
    assert not StaticDevice.objects.filter(user=therapist).exists()
    assert_problem(authorized(token).get("/api/v1/me/"), 401, "authentication_failed")
    assert_problem(
        login(api_client, "dr.berg@example.org", otp=totp_code(therapist_device)),
        401,
        "invalid_credentials",
    )
    # The printed code starts enrolment again: a new password and a new app
    code = printed_code(output)
    started = api_client.post(
        ENROL, {"email": "dr.berg@example.org", "code": code, "password": ENROL_PASSWORD}
    )
    secret = started.json()["secret"]
    confirmed = api_client.post(
        CONFIRM, {"email": "dr.berg@example.org", "code": code, "otp": app_code(secret)}
    )
    assert confirmed.status_code == 200, confirmed.content
    assert len(confirmed.json()["recovery_codes"]) == 10


def test_reset_therapist_totp_refuses_a_patient(patient):
    with pytest.raises(CommandError, match="Only a therapist"):
        run("reset_therapist_totp", "anna@example.org")


@pytest.mark.parametrize(
    "command",
    ["unlock_account", "deactivate_account", "reactivate_account", "reset_therapist_totp"],
)
def test_an_unknown_address_is_an_error(db, command):
    with pytest.raises(CommandError, match="No account has this address"):
        run(command, "nobody@example.org")
    assert User.objects.count() == 0
