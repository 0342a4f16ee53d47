"""GET and PATCH /api/v1/me/."""

from __future__ import annotations

import pytest
from django_otp import DEVICE_ID_SESSION_KEY

from tests.accounts.factories import issue_token
from tests.accounts.helpers import assert_problem, authorized

pytestmark = pytest.mark.django_db

URL = "/api/v1/me/"


def test_shows_the_account(patient, django_assert_max_num_queries):
    client = authorized(issue_token(patient))

    with django_assert_max_num_queries(3):
        response = client.get(URL)

    assert response.status_code == 200
    assert response.json() == {
        "id": str(patient.id),
        "email": "anna@example.org",
        "display_name": patient.display_name,
        "time_zone": "Europe/Berlin",
        "country": None,
        "suggested_country": "DE",
        "role": "patient",
        "created_at": response.json()["created_at"],
        "terms": {
            "current_version": "1",
            "accepted_version": None,
            "accepted_at": None,
            "acceptance_required": True,
        },
    }


def test_needs_a_token(api_client):
    assert_problem(api_client.get(URL), 401, "not_authenticated")


def test_changes_display_name_and_time_zone(patient):
    client = authorized(issue_token(patient))

    response = client.patch(URL, {"display_name": "Anna B.", "time_zone": "America/New_York"})

    assert response.status_code == 200, response.content
    assert response.json()["display_name"] == "Anna B."
    patient.refresh_from_db()
    assert (patient.display_name, patient.time_zone) == ("Anna B.", "America/New_York")


def test_changes_only_what_is_sent(patient):
    client = authorized(issue_token(patient))
    display_name = patient.display_name

    client.patch(URL, {"time_zone": "Asia/Tokyo"})

    patient.refresh_from_db()
    assert (patient.display_name, patient.time_zone) == (display_name, "Asia/Tokyo")


def test_email_cannot_be_changed_here(patient):
    client = authorized(issue_token(patient))

    response = client.patch(URL, {"email": "mallory@example.org", "display_name": "Mallory"})

    body = assert_problem(response, 400, "validation")
    assert "mallory" not in response.content.decode()
    assert "non_field_errors" in body["errors"]
    patient.refresh_from_db()
    assert patient.email == "anna@example.org"
    assert patient.display_name != "Mallory"


def test_unknown_time_zone_is_refused_without_echoing_it(patient):
    client = authorized(issue_token(patient))

    response = client.patch(URL, {"time_zone": "Atlantis/Lost_City"})

    body = assert_problem(response, 400, "validation")
    assert list(body["errors"]) == ["time_zone"]
    assert "Atlantis" not in response.content.decode()
    patient.refresh_from_db()
    assert patient.time_zone == "Europe/Berlin"


def test_blank_display_name_is_refused(patient):
    client = authorized(issue_token(patient))

    response = client.patch(URL, {"display_name": ""})

    assert_problem(response, 400, "validation")
    patient.refresh_from_db()
    assert patient.display_name != ""


class TestWebSession:
    """The dashboard signs therapists in with a session; django-otp marks it verified."""

    def test_therapist_session_without_otp_is_refused(self, api_client, therapist):
        api_client.force_login(therapist)

        assert_problem(api_client.get(URL), 403, "second_factor_required")

    def test_therapist_session_verified_by_django_otp_is_allowed(
        self, api_client, therapist, therapist_device
    ):
        api_client.force_login(therapist)
        session = api_client.session
        session[DEVICE_ID_SESSION_KEY] = therapist_device.persistent_id
        session.save()

        response = api_client.get(URL)

        assert response.status_code == 200, response.content
        assert response.json()["email"] == "dr.berg@example.org"
