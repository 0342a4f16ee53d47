"""Sign-in lock-out (django-axes): per (email, network address), for AXES_COOLOFF_TIME."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from axes.models import AccessAttempt, AccessLog
from django.conf import settings
from django.utils import timezone

from backend.accounts.models import DeviceToken
from tests.accounts.factories import PASSWORD, PatientFactory, totp_code
from tests.accounts.helpers import assert_problem, authorized, login

pytestmark = pytest.mark.django_db

WRONG = "not-the-password-1"
ELSEWHERE = "203.0.113.9"


def _fail_until_locked(client, email, **extra):
    """Fail AXES_FAILURE_LIMIT times; the last failure is answered with the lock-out."""
    answers = [login(client, email, WRONG, **extra) for _ in range(settings.AXES_FAILURE_LIMIT)]
    for answer in answers[:-1]:
        assert_problem(answer, 401, "invalid_credentials")
    return answers[-1]


def _assert_locked_out(response):
    body = assert_problem(response, 429, "locked_out")
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    assert response["Retry-After"] == str(seconds)
    assert body["retry_after_seconds"] == seconds


def test_locks_out_after_the_failure_limit(api_client, patient):
    _assert_locked_out(_fail_until_locked(api_client, "anna@example.org"))


def test_locked_out_pair_is_refused_even_with_the_right_password(api_client, patient):
    _fail_until_locked(api_client, "anna@example.org")

    response = login(api_client, "anna@example.org")

    _assert_locked_out(response)
    assert DeviceToken.objects.count() == 0


def test_the_same_account_from_another_address_is_not_locked(api_client, patient):
    _fail_until_locked(api_client, "anna@example.org")

    response = login(api_client, "anna@example.org", remote_addr=ELSEWHERE)

    assert response.status_code == 200, response.content
    # and signing in elsewhere does not lift the lock on the first address
    _assert_locked_out(login(api_client, "anna@example.org"))


def test_another_account_from_the_same_address_is_not_locked(api_client, patient):
    PatientFactory(email="ben@example.org")
    _fail_until_locked(api_client, "anna@example.org")

    assert login(api_client, "ben@example.org").status_code == 200


def test_unknown_email_is_locked_out_like_a_known_one(api_client):
    _assert_locked_out(_fail_until_locked(api_client, "nobody@example.org"))


def test_lock_out_ends_after_the_cool_off(api_client, patient):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        _fail_until_locked(api_client, "anna@example.org")

        clock.shift(settings.AXES_COOLOFF_TIME - timedelta(seconds=5))
        _assert_locked_out(login(api_client, "anna@example.org"))

        # The refused attempt restarted the cool-off.
        clock.shift(settings.AXES_COOLOFF_TIME + timedelta(seconds=1))
        response = login(api_client, "anna@example.org")

    assert response.status_code == 200, response.content


def test_wrong_otp_codes_lock_a_therapist_out(api_client, therapist, therapist_device):
    valid = totp_code(therapist_device)
    wrong = "000000" if valid != "000000" else "111111"

    # Given the right password with wrong codes, up to the limit
    answers = [
        login(api_client, "dr.berg@example.org", otp=wrong)
        for _ in range(settings.AXES_FAILURE_LIMIT)
    ]

    # then the pair is locked out, and even a valid code is refused
    assert_problem(answers[0], 401, "invalid_credentials")
    _assert_locked_out(answers[-1])
    _assert_locked_out(login(api_client, "dr.berg@example.org", otp=valid))
    assert DeviceToken.objects.count() == 0


def test_the_right_password_without_otp_locks_a_therapist_out(
    api_client, therapist, therapist_device
):
    # Given the right password without a code, up to the limit
    answers = [login(api_client, "dr.berg@example.org") for _ in range(settings.AXES_FAILURE_LIMIT)]

    # then each counted as a failure: the pair is locked out, even with a valid code
    assert_problem(answers[0], 401, "invalid_credentials")
    _assert_locked_out(answers[-1])
    _assert_locked_out(login(api_client, "dr.berg@example.org", otp=totp_code(therapist_device)))
    assert DeviceToken.objects.count() == 0


def test_an_erasure_leaves_the_address_in_none_of_the_lock_outs_records(api_client, patient):
    # A failed sign-in from one network address, a sign-in from another: django-axes keeps
    # a record of each under the address
    assert_problem(
        login(api_client, "anna@example.org", WRONG, remote_addr=ELSEWHERE),
        401,
        "invalid_credentials",
    )
    signed_in = login(api_client, "anna@example.org")
    assert signed_in.status_code == 200, signed_in.content
    assert AccessLog.objects.filter(username="anna@example.org").exists()
    assert AccessAttempt.objects.filter(username="anna@example.org").exists()

    erased = authorized(signed_in.json()["token"]).post("/api/v1/me/erase/", {"password": PASSWORD})

    assert erased.status_code == 204, erased.content
    assert not AccessLog.objects.filter(username="anna@example.org").exists()
    assert not AccessAttempt.objects.filter(username="anna@example.org").exists()
