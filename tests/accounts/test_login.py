"""POST /api/v1/auth/login/: patients and therapists sign in for a device token."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from axes.models import AccessAttempt
from django.utils import timezone

from backend.accounts.models import DeviceToken
from tests.accounts.factories import PatientFactory, TherapistFactory, totp_code
from tests.accounts.helpers import assert_problem, authorized, login, without_request_id

pytestmark = pytest.mark.django_db


def test_patient_signs_in_and_the_token_works(api_client, patient):
    response = login(api_client, "anna@example.org", device_name="Anna's phone")

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"token", "expires_at", "device", "user"}
    device = DeviceToken.objects.get(user=patient)
    assert body["device"]["id"] == device.token_key
    assert body["device"]["name"] == "Anna's phone"
    assert body["device"]["is_current"] is True
    assert body["user"]["id"] == str(patient.id)
    assert device.is_second_factor_verified is False
    assert authorized(body["token"]).get("/api/v1/me/").json()["email"] == "anna@example.org"


def test_email_is_matched_without_regard_to_case(api_client, patient):
    response = login(api_client, "  ANNA@Example.ORG ")

    assert response.status_code == 200, response.content


def test_device_name_is_optional(api_client, patient):
    response = login(api_client, "anna@example.org")

    assert response.json()["device"]["name"] == "unnamed device"


def test_token_is_stored_only_as_a_digest(api_client, patient):
    token = login(api_client, "anna@example.org").json()["token"]

    stored = DeviceToken.objects.get()
    assert token not in {stored.digest, stored.token_key}
    assert stored.token_key == token[:15]


def test_wrong_password_and_unknown_email_answer_the_same(api_client, patient):
    wrong_password = login(api_client, "anna@example.org", "not-her-password-1")
    unknown_email = login(api_client, "nobody@example.org", "not-her-password-1")

    wrong_body = assert_problem(wrong_password, 401, "invalid_credentials")
    unknown_body = assert_problem(unknown_email, 401, "invalid_credentials")
    assert without_request_id(wrong_body) == without_request_id(unknown_body)
    assert wrong_password.headers.get("WWW-Authenticate") == unknown_email.headers.get(
        "WWW-Authenticate"
    )
    assert DeviceToken.objects.count() == 0


def test_inactive_user_cannot_sign_in_and_only_the_password_holder_is_told_why(api_client):
    PatientFactory(email="gone@example.org", is_active=False)

    assert_problem(login(api_client, "gone@example.org"), 403, "account_inactive")
    assert_problem(
        login(api_client, "gone@example.org", "not-the-password-1"), 401, "invalid_credentials"
    )
    assert DeviceToken.objects.count() == 0


def test_erased_user_cannot_sign_in(api_client):
    PatientFactory(email="erased@example.org", erased_at=timezone.now())

    assert_problem(login(api_client, "erased@example.org"), 401, "invalid_credentials")
    assert DeviceToken.objects.count() == 0


def test_unknown_fields_are_refused(api_client, patient):
    response = login(api_client, "anna@example.org", remember_me=True)

    assert_problem(response, 400, "validation")
    assert DeviceToken.objects.count() == 0


def test_successful_sign_in_clears_earlier_failures(api_client, patient):
    login(api_client, "anna@example.org", "wrong-password-123")
    assert AccessAttempt.objects.filter(username="anna@example.org").exists()

    login(api_client, "anna@example.org")

    assert not AccessAttempt.objects.filter(username="anna@example.org").exists()


def test_oldest_device_is_signed_out_beyond_the_limit(api_client, patient, settings):
    # Given the per-user token limit reached (knox's TOKEN_LIMIT_PER_USER, 20)
    tokens = [login(api_client, "anna@example.org").json()["token"] for _ in range(20)]

    # when signing in once more
    login(api_client, "anna@example.org")

    # then the least recently used token is revoked, and the limit holds
    assert DeviceToken.objects.filter(user=patient).count() == 20
    assert authorized(tokens[0]).get("/api/v1/me/").status_code == 401
    assert authorized(tokens[1]).get("/api/v1/me/").status_code == 200


class TestTherapist:
    def test_without_otp_answers_exactly_like_a_wrong_password_and_counts_as_a_failure(
        self, api_client, therapist
    ):
        # Given the right password without a code, and a wrong password without one
        without_otp = login(api_client, "dr.berg@example.org")
        wrong_password = login(api_client, "dr.berg@example.org", "not-the-password-1")

        # then the answers cannot be told apart, so a password cannot be tested without
        # the second factor, and both count towards the lock-out
        assert without_request_id(
            assert_problem(without_otp, 401, "invalid_credentials")
        ) == without_request_id(assert_problem(wrong_password, 401, "invalid_credentials"))
        assert without_otp.headers["WWW-Authenticate"] == wrong_password.headers["WWW-Authenticate"]
        attempt = AccessAttempt.objects.get(username="dr.berg@example.org")
        assert attempt.failures_since_start == 2
        assert DeviceToken.objects.count() == 0

    def test_an_empty_otp_answers_like_a_wrong_password(self, api_client, therapist):
        assert_problem(login(api_client, "dr.berg@example.org", otp=""), 401, "invalid_credentials")

    def test_wrong_otp_answers_like_a_wrong_password_and_counts_as_a_failure(
        self, api_client, therapist, therapist_device
    ):
        valid = totp_code(therapist_device)
        wrong = "000000" if valid != "000000" else "111111"

        wrong_otp = login(api_client, "dr.berg@example.org", otp=wrong)
        wrong_password = login(api_client, "dr.berg@example.org", "not-the-password-1", otp=valid)

        assert without_request_id(
            assert_problem(wrong_otp, 401, "invalid_credentials")
        ) == without_request_id(assert_problem(wrong_password, 401, "invalid_credentials"))
        attempt = AccessAttempt.objects.get(username="dr.berg@example.org")
        assert attempt.failures_since_start == 2
        assert DeviceToken.objects.count() == 0

    def test_valid_otp_signs_in_with_the_second_factor(
        self, api_client, therapist, therapist_device
    ):
        response = login(api_client, "dr.berg@example.org", otp=totp_code(therapist_device))

        assert response.status_code == 200, response.content
        assert DeviceToken.objects.get(user=therapist).is_second_factor_verified is True
        me = authorized(response.json()["token"]).get("/api/v1/me/")
        assert me.status_code == 200
        assert me.json()["role"] == "therapist"

    def test_a_used_otp_cannot_be_used_again(self, api_client, therapist, therapist_device):
        code = totp_code(therapist_device)
        assert login(api_client, "dr.berg@example.org", otp=code).status_code == 200

        replay = login(api_client, "dr.berg@example.org", otp=code)

        assert_problem(replay, 401, "invalid_credentials")
        assert DeviceToken.objects.count() == 1

    def test_without_a_confirmed_authenticator_answers_like_a_wrong_password(self, api_client):
        # A therapist between setting a password and confirming the app has no second
        # factor yet: telling them so would tell anyone that the password was right.
        TherapistFactory(email="new@example.org")

        right = login(api_client, "new@example.org", otp="123456")
        wrong = login(api_client, "new@example.org", "not-the-password-1", otp="123456")

        assert without_request_id(
            assert_problem(right, 401, "invalid_credentials")
        ) == without_request_id(assert_problem(wrong, 401, "invalid_credentials"))
        assert AccessAttempt.objects.get(username="new@example.org").failures_since_start == 2
        assert DeviceToken.objects.count() == 0

    def test_token_without_second_factor_is_refused_and_changes_nothing(self, therapist):
        # Given a therapist token issued without the second factor
        client = authorized(DeviceToken.objects.create(user=therapist)[1])

        # when it is used to read and to write
        read = client.get("/api/v1/me/")
        write = client.patch("/api/v1/me/", {"display_name": "Someone else"})

        # then both are refused, and nothing changed
        assert_problem(read, 403, "second_factor_required")
        assert_problem(write, 403, "second_factor_required")
        therapist.refresh_from_db()
        assert therapist.display_name.startswith("Dr Therapist")

    def test_the_token_keeps_working_after_the_code_expires(
        self, api_client, therapist, therapist_device
    ):
        token = login(api_client, "dr.berg@example.org", otp=totp_code(therapist_device)).json()[
            "token"
        ]

        with time_machine.travel(timezone.now() + timedelta(minutes=10)):
            assert authorized(token).get("/api/v1/me/").status_code == 200


# 249 characters as typed, a valid address; lower-cased ("İ" becomes "i" and a combining
# dot) it has 489, longer than any stored address and than the lock-out's account column.
GROWS_WHEN_LOWERED = "a@" + ".".join(["İ" * 60] * 4) + ".com"


def test_an_address_too_long_once_lower_cased_is_a_400_not_a_500(api_client, patient):
    assert len(GROWS_WHEN_LOWERED) <= 254 < len(GROWS_WHEN_LOWERED.lower())

    body = assert_problem(login(api_client, GROWS_WHEN_LOWERED), 400, "validation")

    assert "email" in body["errors"]
    assert not AccessAttempt.objects.exists()
