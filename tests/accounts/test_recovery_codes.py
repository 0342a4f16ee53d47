"""Therapists' recovery codes (django-otp's static tokens): ten, shown once at enrolment
and on re-generation; each signs in once in place of the authenticator app's code."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

from backend.accounts import recovery, services
from backend.accounts.models import DeviceToken
from tests.accounts.factories import PASSWORD, issue_token, totp_code
from tests.accounts.helpers import assert_problem, authorized, login
from tests.accounts.test_therapist_enrolment import (
    CONFIRM,
    EMAIL,
    ENROL,
    app_code,
    create_therapist,
    printed_code,
)
from tests.accounts.test_therapist_enrolment import PASSWORD as ENROL_PASSWORD

pytestmark = pytest.mark.django_db

URL = "/api/v1/auth/recovery-codes/"


@pytest.fixture
def codes(therapist) -> list[str]:
    return recovery.recovery_codes_create(user=therapist)


def test_enrolment_shows_ten_recovery_codes_once_and_each_signs_in(api_client):
    code = printed_code(create_therapist())
    secret = api_client.post(
        ENROL, {"email": EMAIL, "code": code, "password": ENROL_PASSWORD}
    ).json()["secret"]

    confirmed = api_client.post(CONFIRM, {"email": EMAIL, "code": code, "otp": app_code(secret)})

    assert confirmed.status_code == 200, confirmed.content
    codes = confirmed.json()["recovery_codes"]
    assert len(codes) == len(set(codes)) == 10
    signed_in = login(api_client, EMAIL, ENROL_PASSWORD, otp=codes[0])
    assert signed_in.status_code == 200, signed_in.content
    assert DeviceToken.objects.get().is_second_factor_verified is True


def test_a_recovery_code_works_once(api_client, therapist, codes):
    first = login(api_client, "dr.berg@example.org", otp=codes[3])
    again = login(api_client, "dr.berg@example.org", otp=codes[3])

    assert first.status_code == 200, first.content
    assert_problem(again, 401, "invalid_credentials")
    assert recovery.recovery_codes_remaining(user=therapist) == 9


def test_it_is_typed_with_or_without_spaces_and_capitals(api_client, codes):
    typed = f"{codes[0][:4].upper()} {codes[0][4:].upper()}"

    assert login(api_client, "dr.berg@example.org", otp=typed).status_code == 200


def test_a_wrong_recovery_code_answers_like_any_wrong_code_and_counts(api_client, therapist, codes):
    from axes.models import AccessAttempt

    response = login(api_client, "dr.berg@example.org", otp="notacode")

    assert_problem(response, 401, "invalid_credentials")
    assert AccessAttempt.objects.get(username="dr.berg@example.org").failures_since_start == 1
    assert recovery.recovery_codes_remaining(user=therapist) == 10


def test_a_recovery_code_needs_the_password(api_client, codes):
    response = login(api_client, "dr.berg@example.org", "not-the-password-1", otp=codes[0])

    assert_problem(response, 401, "invalid_credentials")
    assert StaticToken.objects.count() == 10


def test_a_new_set_ends_the_old_one(api_client, therapist, therapist_device, codes):
    client = authorized(issue_token(therapist, second_factor=True))

    response = client.post(URL, {"password": PASSWORD})

    assert response.status_code == 201, response.content
    new = response.json()["recovery_codes"]
    assert len(new) == 10
    assert_problem(
        login(api_client, "dr.berg@example.org", otp=codes[0]), 401, "invalid_credentials"
    )
    # django-otp holds the next try back a second after a failure (its throttle).
    with time_machine.travel(timezone.now() + timedelta(seconds=2)):
        assert login(api_client, "dr.berg@example.org", otp=new[0]).status_code == 200
    assert StaticDevice.objects.filter(user=therapist).count() == 1


def test_a_new_set_needs_the_password(therapist, codes):
    client = authorized(issue_token(therapist, second_factor=True))

    response = client.post(URL, {"password": "not-the-password-1"})

    assert_problem(response, 400, "invalid_password")
    assert set(StaticToken.objects.values_list("token", flat=True)) == set(codes)


def test_the_count_is_shown_never_a_code(therapist, codes):
    client = authorized(issue_token(therapist, second_factor=True))

    response = client.get(URL)

    assert response.json() == {"remaining": 10}
    assert not any(code in response.content.decode() for code in codes)


def test_patients_and_unverified_therapists_may_not(patient, therapist):
    for client in (authorized(issue_token(patient)), authorized(issue_token(therapist))):
        assert_problem(client.post(URL, {"password": PASSWORD}), 403, "permission_denied")
    assert not StaticDevice.objects.exists()


def test_the_app_code_still_works_beside_them(api_client, therapist_device, codes):
    response = login(api_client, "dr.berg@example.org", otp=totp_code(therapist_device))

    assert response.status_code == 200
    assert StaticToken.objects.count() == 10


def test_erasure_ends_them(therapist, codes):
    services.user_erase(user=therapist, password=PASSWORD)

    assert not StaticDevice.objects.exists()


def test_the_admin_never_shows_them(codes, admin_enabled, therapist):
    from tests.accounts.factories import UserFactory
    from tests.accounts.helpers import admin_client_for

    staff = UserFactory.create(email="staff@example.org", is_staff=True, is_superuser=True)
    client = admin_client_for(staff)
    device = StaticDevice.objects.get(user=therapist)

    page = client.get(f"/admin/otp_static/staticdevice/{device.pk}/change/").content.decode()

    assert page.count("Recovery codes") >= 1
    assert not any(code in page for code in codes)
    assert settings.OTP_ADMIN_HIDE_SENSITIVE_DATA is True
