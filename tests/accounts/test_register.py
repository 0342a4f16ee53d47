"""POST /api/v1/auth/register/: patients sign themselves up."""

from __future__ import annotations

import pytest

from backend.accounts.models import DeviceToken, Role, User
from tests.accounts.factories import PatientFactory
from tests.accounts.helpers import assert_problem, authorized

pytestmark = pytest.mark.django_db

URL = "/api/v1/auth/register/"
VALID = {
    "email": "Anna@Example.org",
    "password": "correct horse battery staple",
    "display_name": "Anna",
    "time_zone": "Europe/Berlin",
    "device_name": "Anna's iPhone",
}


def test_registers_a_patient_and_signs_the_device_in(api_client):
    # Given no account; when Anna registers
    response = api_client.post(URL, VALID)

    # then she is a patient, with a working token for this device
    assert response.status_code == 201, response.content
    body = response.json()
    user = User.objects.get()
    assert user.email == "anna@example.org"
    assert user.role == Role.PATIENT
    assert user.time_zone == "Europe/Berlin"
    assert body["user"] == {
        "id": str(user.id),
        "email": "anna@example.org",
        "display_name": "Anna",
        "time_zone": "Europe/Berlin",
        "country": None,
        "suggested_country": "DE",
        "role": "patient",
        "created_at": body["user"]["created_at"],
        "terms": {
            "current_version": "1",
            "accepted_version": None,
            "accepted_at": None,
            "acceptance_required": True,
        },
    }
    assert body["device"]["name"] == "Anna's iPhone"
    assert body["device"]["id"] == body["token"][:15]
    assert body["expiry"] is not None
    assert authorized(body["token"]).get("/api/v1/me/").status_code == 200
    assert user.last_login is not None


def test_time_zone_defaults_to_utc(api_client):
    data = {key: value for key, value in VALID.items() if key not in {"time_zone"}}

    response = api_client.post(URL, data)

    assert response.status_code == 201, response.content
    assert response.json()["user"]["time_zone"] == "UTC"


def test_password_is_stored_with_argon2(api_client, settings):
    # Given the project's real hashers (the suite swaps in a fast one)
    from backend import settings as project_settings

    settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS

    api_client.post(URL, VALID)

    password = User.objects.get().password
    assert password.startswith("argon2$")
    assert VALID["password"] not in password


def test_taken_email_answers_400_on_email_without_creating_anything(api_client):
    # Given an account with the same address, written differently
    PatientFactory(email="anna@example.org")

    response = api_client.post(URL, VALID)

    body = assert_problem(response, 400, "validation")
    assert body["errors"] == {"email": ["This email address cannot be used."]}
    assert User.objects.count() == 1
    assert DeviceToken.objects.count() == 0


def test_weak_password_answers_a_validation_problem(api_client):
    response = api_client.post(URL, {**VALID, "password": "qz7%w"})

    body = assert_problem(response, 400, "validation")
    assert set(body) >= {"type", "title", "status", "detail", "code", "errors"}
    assert body["title"] == "Bad Request"
    assert list(body["errors"]) == ["password"]
    assert any("too short" in message for message in body["errors"]["password"])
    assert User.objects.count() == 0


def test_password_like_the_email_is_refused(api_client):
    response = api_client.post(
        URL, {**VALID, "email": "moonriver42@example.org", "password": "moonriver42"}
    )

    body = assert_problem(response, 400, "validation")
    assert "password" in body["errors"]
    assert User.objects.count() == 0


def test_missing_fields_are_named(api_client):
    response = api_client.post(URL, {})

    body = assert_problem(response, 400, "validation")
    assert set(body["errors"]) == {"email", "password", "display_name"}


def test_unknown_time_zone_is_refused_without_echoing_it(api_client):
    # Given a time zone value that must not come back in the answer
    secret_value = "Mars/Olympus_Mons_secret"

    response = api_client.post(URL, {**VALID, "time_zone": secret_value})

    body = assert_problem(response, 400, "validation")
    assert list(body["errors"]) == ["time_zone"]
    assert secret_value not in response.content.decode()
    assert User.objects.count() == 0


def test_unknown_fields_are_refused_without_echoing_them(api_client):
    response = api_client.post(URL, {**VALID, "role": "therapist", "is_staff_secret": True})

    body = assert_problem(response, 400, "validation")
    assert "is_staff_secret" not in response.content.decode()
    assert "Unknown fields" in body["errors"]["non_field_errors"][0]
    assert User.objects.count() == 0


def test_password_is_never_echoed(api_client):
    response = api_client.post(URL, {**VALID, "email": "not-an-address", "password": "pw-echo-1"})

    assert_problem(response, 400, "validation")
    assert "pw-echo-1" not in response.content.decode()
