"""Therapists: `manage.py create_therapist`, then POST /auth/enrol/ and /auth/enrol/confirm/."""

from __future__ import annotations

import base64
import hashlib
import io
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from backend.accounts.models import DeviceToken, EnrolmentCode, Role, User
from tests.accounts.factories import PatientFactory, TherapistFactory
from tests.accounts.helpers import assert_problem, authorized, login, without_request_id

pytestmark = pytest.mark.django_db

ENROL = "/api/v1/auth/enrol/"
CONFIRM = "/api/v1/auth/enrol/confirm/"
EMAIL = "dr.berg@example.org"
PASSWORD = "quiet-orchard-lamp-5150"


def create_therapist(*args: str) -> str:
    out = io.StringIO()
    call_command("create_therapist", "--email", EMAIL, "--name", "Dr Berg", *args, stdout=out)
    return out.getvalue()


def printed_code(output: str) -> str:
    match = re.search(r"code \(valid 72 h\): (\S+)", output)
    assert match, output
    return match.group(1)


def app_code(secret: str, *, steps_ahead: int = 0) -> str:
    """What an authenticator app set up with `secret` shows."""
    totp = TOTP(base64.b32decode(secret))
    totp.time = timezone.now().timestamp() + steps_ahead * 30
    return f"{totp.token():06d}"


@pytest.fixture
def code() -> str:
    return printed_code(create_therapist())


class TestCreateTherapistCommand:
    def test_creates_a_therapist_without_a_usable_password(self):
        output = create_therapist("--time-zone", "Europe/Vienna")

        user = User.objects.get(email=EMAIL)
        assert user.role == Role.THERAPIST
        assert user.display_name == "Dr Berg"
        assert user.time_zone == "Europe/Vienna"
        assert not user.has_usable_password()
        assert "enrol at POST /api/v1/auth/enrol/" in output

    def test_stores_only_a_hash_of_the_code_valid_for_72_hours(self):
        before = timezone.now()
        code = printed_code(create_therapist())

        stored = EnrolmentCode.objects.get()
        normalized = code.replace("-", "")
        assert stored.code_hash == hashlib.sha256(normalized.encode()).hexdigest()
        assert normalized not in stored.code_hash
        assert timedelta(hours=72) <= stored.expires_at - before <= timedelta(hours=72, minutes=1)
        assert stored.used_at is None

    def test_refuses_an_address_in_use(self):
        PatientFactory(email=EMAIL)

        with pytest.raises(CommandError):
            create_therapist()

        assert User.objects.get(email=EMAIL).role == Role.PATIENT
        assert not EnrolmentCode.objects.exists()

    def test_refuses_an_unknown_time_zone(self):
        with pytest.raises(CommandError):
            create_therapist("--time-zone", "Nowhere/Special")

        assert not User.objects.exists()


def test_enrolment_end_to_end(api_client, code):
    # Given the code from create_therapist: set a password and start an authenticator app
    started = api_client.post(ENROL, {"email": EMAIL, "code": code, "password": PASSWORD})
    assert started.status_code == 200, started.content
    secret = started.json()["secret"]
    uri = urlparse(started.json()["otpauth_uri"])
    assert uri.scheme == "otpauth"
    assert parse_qs(uri.query)["secret"] == [secret]
    assert parse_qs(uri.query)["issuer"] == ["Afterglow"]

    # Before confirming, sign-in is refused, as with any wrong credentials
    assert_problem(
        login(api_client, EMAIL, PASSWORD, otp=app_code(secret)), 401, "invalid_credentials"
    )

    # Confirm with a code from the app
    confirmed = api_client.post(CONFIRM, {"email": EMAIL, "code": code, "otp": app_code(secret)})
    assert confirmed.status_code == 200, confirmed.content
    assert confirmed.json()["user"]["email"] == EMAIL
    assert EnrolmentCode.objects.get().used_at is not None
    assert TOTPDevice.objects.get().confirmed is True

    # Then the therapist signs in with the password and the next code, and the token works
    with time_machine.travel(timezone.now() + timedelta(seconds=30)):
        response = login(api_client, EMAIL, PASSWORD, otp=app_code(secret))
        assert response.status_code == 200, response.content
        me = authorized(response.json()["token"]).get("/api/v1/me/")
    assert me.status_code == 200
    assert DeviceToken.objects.get().is_second_factor_verified is True


def test_starting_again_replaces_the_unconfirmed_app(api_client, code):
    first = api_client.post(ENROL, {"email": EMAIL, "code": code, "password": PASSWORD})
    second = api_client.post(ENROL, {"email": EMAIL, "code": code, "password": PASSWORD})

    assert first.json()["secret"] != second.json()["secret"]
    assert TOTPDevice.objects.count() == 1
    stale = api_client.post(
        CONFIRM, {"email": EMAIL, "code": code, "otp": app_code(first.json()["secret"])}
    )
    assert_problem(stale, 400, "invalid_otp")


class TestRefusals:
    def _assert_invalid_code(self, response) -> dict:
        return without_request_id(assert_problem(response, 400, "invalid_enrolment_code"))

    def test_wrong_used_expired_and_unknown_answer_the_same(self, api_client, code):
        wrong = api_client.post(
            ENROL, {"email": EMAIL, "code": "AAAAA-AAAAA", "password": PASSWORD}
        )
        unknown = api_client.post(
            ENROL, {"email": "nobody@example.org", "code": code, "password": PASSWORD}
        )
        with time_machine.travel(timezone.now() + timedelta(hours=72, minutes=1)):
            expired = api_client.post(ENROL, {"email": EMAIL, "code": code, "password": PASSWORD})

        secret = api_client.post(
            ENROL, {"email": EMAIL, "code": code, "password": PASSWORD}
        ).json()["secret"]
        api_client.post(CONFIRM, {"email": EMAIL, "code": code, "otp": app_code(secret)})
        used = api_client.post(
            ENROL, {"email": EMAIL, "code": code, "password": "another-pass-123"}
        )

        bodies = [self._assert_invalid_code(r) for r in (wrong, unknown, expired, used)]
        assert all(body == bodies[0] for body in bodies)
        assert code not in str(bodies)

    def test_wrong_code_changes_nothing(self, api_client, code):
        response = api_client.post(
            ENROL, {"email": EMAIL, "code": "BBBBB-BBBBB", "password": PASSWORD}
        )

        self._assert_invalid_code(response)
        assert not User.objects.get(email=EMAIL).has_usable_password()
        assert not TOTPDevice.objects.exists()

    def test_code_of_a_patient_address_is_refused(self, api_client):
        PatientFactory(email="patient@example.org")

        response = api_client.post(
            ENROL, {"email": "patient@example.org", "code": "CCCCC", "password": PASSWORD}
        )

        self._assert_invalid_code(response)

    def test_weak_password_is_refused_and_sets_nothing(self, api_client, code):
        response = api_client.post(ENROL, {"email": EMAIL, "code": code, "password": "12345678901"})

        body = assert_problem(response, 400, "validation")
        assert "password" in body["errors"]
        assert not User.objects.get(email=EMAIL).has_usable_password()
        assert not TOTPDevice.objects.exists()

    def test_wrong_otp_does_not_confirm_or_spend_the_code(self, api_client, code):
        secret = api_client.post(
            ENROL, {"email": EMAIL, "code": code, "password": PASSWORD}
        ).json()["secret"]
        valid = app_code(secret)
        wrong = "000000" if valid != "000000" else "111111"

        response = api_client.post(CONFIRM, {"email": EMAIL, "code": code, "otp": wrong})

        assert_problem(response, 400, "invalid_otp")
        assert TOTPDevice.objects.get().confirmed is False
        assert EnrolmentCode.objects.get().used_at is None

    def test_confirm_before_enrol_answers_409(self, api_client, code):
        response = api_client.post(CONFIRM, {"email": EMAIL, "code": code, "otp": "123456"})

        assert_problem(response, 409, "enrolment_not_started")
        assert EnrolmentCode.objects.get().used_at is None

    def test_confirm_with_a_wrong_code_answers_the_same_as_enrol(self, api_client, code):
        api_client.post(ENROL, {"email": EMAIL, "code": code, "password": PASSWORD})

        response = api_client.post(CONFIRM, {"email": EMAIL, "code": "DDDDD", "otp": "123456"})

        self._assert_invalid_code(response)
        assert TOTPDevice.objects.get().confirmed is False

    def test_a_code_works_only_for_its_own_therapist(self, api_client, code):
        TherapistFactory(email="other@example.org")

        response = api_client.post(
            ENROL, {"email": "other@example.org", "code": code, "password": PASSWORD}
        )

        self._assert_invalid_code(response)
        assert not TOTPDevice.objects.exists()


def test_a_new_enrolment_code_ends_the_one_handed_out_before(api_client, code):
    # Given a first code, then a second from the operator's reset (the first was lost,
    # or went over a channel that someone else reads)
    out = io.StringIO()
    call_command("reset_therapist_totp", "--email", EMAIL, stdout=out)
    second = printed_code(out.getvalue())

    # When the therapist enrols with the second code
    started = api_client.post(ENROL, {"email": EMAIL, "code": second, "password": PASSWORD})
    assert started.status_code == 200, started.content
    secret = started.json()["secret"]
    confirmed = api_client.post(CONFIRM, {"email": EMAIL, "code": second, "otp": app_code(secret)})
    assert confirmed.status_code == 200, confirmed.content

    # Then the first code sets no password and starts no app: the account stays theirs
    assert_problem(
        api_client.post(
            ENROL, {"email": EMAIL, "code": code, "password": "taken-over-" + PASSWORD}
        ),
        400,
        "invalid_enrolment_code",
    )
    assert User.objects.get(email=EMAIL).check_password(PASSWORD)
    assert TOTPDevice.objects.filter(confirmed=False).count() == 0
