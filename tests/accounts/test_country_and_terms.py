"""A patient's country (ISO 3166-1, suggested from the time zone, chosen by the patient) and
the terms and privacy notice they accepted (the version is a setting; /me/ says when a
newer one needs accepting)."""

from __future__ import annotations

import pytest

from backend.accounts.countries import country_for_time_zone
from backend.accounts.models import TermsAcceptance, User
from tests.accounts.factories import issue_token
from tests.accounts.helpers import authorized

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register/"
ME = "/api/v1/me/"
VALID = {
    "email": "anna@example.org",
    "password": "correct horse battery staple",
    "display_name": "Anna",
    "time_zone": "Europe/Vienna",
}


@pytest.mark.parametrize(
    ("zone", "country"),
    [
        ("Europe/Berlin", "DE"),
        ("Europe/Vienna", "AT"),
        ("Europe/Zurich", "CH"),
        ("Europe/London", "GB"),
        ("Europe/Dublin", "IE"),
        ("America/Toronto", "CA"),
        ("Australia/Sydney", "AU"),
        ("Pacific/Auckland", "NZ"),
        ("UTC", None),
    ],
)
def test_the_time_zone_suggests_a_country(zone, country) -> None:
    assert country_for_time_zone(zone) == country


def test_registration_records_the_country_and_the_terms_accepted(api_client) -> None:
    response = api_client.post(
        REGISTER, VALID | {"country": "at", "accepted_terms_version": "1"}, format="json"
    )

    # Registration answers 202 for every address (a code confirms it); the account it
    # makes carries the country and the terms accepted.
    assert response.status_code == 202, response.content
    user = User.objects.get()
    assert user.country == "AT"
    acceptance = TermsAcceptance.objects.get(user=user)
    assert acceptance.version == "1"


def test_registration_refuses_terms_that_are_not_the_current_ones(api_client) -> None:
    response = api_client.post(REGISTER, VALID | {"accepted_terms_version": "0"}, format="json")

    assert response.status_code == 400
    assert "accepted_terms_version" in response.json()["errors"]
    assert not User.objects.exists()


@pytest.mark.parametrize("country", ["XX", "UK", "DEU", "D3"])
def test_registration_refuses_what_is_not_an_iso_country_code(api_client, country) -> None:
    response = api_client.post(REGISTER, VALID | {"country": country}, format="json")

    assert response.status_code == 400
    assert "country" in response.json()["errors"]
    assert country not in response.content.decode()  # never echoes what was sent
    assert not User.objects.exists()


def test_me_suggests_a_country_and_the_patient_decides(patient) -> None:
    client = authorized(issue_token(patient))  # time zone Europe/Berlin
    before = client.get(ME).json()
    assert (before["country"], before["suggested_country"]) == (None, "DE")

    # Lives in Austria, on Berlin's clock: the patient's choice stands.
    changed = client.patch(ME, {"country": "AT"}, format="json")
    assert changed.status_code == 200
    assert (changed.json()["country"], changed.json()["suggested_country"]) == ("AT", "DE")

    cleared = client.patch(ME, {"country": ""}, format="json")
    assert cleared.json()["country"] is None
    assert User.objects.get(pk=patient.pk).country == ""


def test_a_newer_terms_version_must_be_accepted(patient, settings) -> None:
    client = authorized(issue_token(patient))
    accepted = client.post(f"{ME}terms/", {"version": "1"}, format="json")
    assert accepted.status_code == 200
    assert accepted.json()["acceptance_required"] is False

    settings.TERMS_VERSION = "2"
    terms = client.get(ME).json()["terms"]
    assert (terms["current_version"], terms["accepted_version"]) == ("2", "1")
    assert terms["acceptance_required"] is True

    stale = client.post(f"{ME}terms/", {"version": "1"}, format="json")
    assert stale.status_code == 400
    assert client.post(f"{ME}terms/", {"version": "2"}, format="json").json() == {
        "current_version": "2",
        "accepted_version": "2",
        "accepted_at": client.get(ME).json()["terms"]["accepted_at"],
        "acceptance_required": False,
    }
    assert list(TermsAcceptance.objects.filter(user=patient).values_list("version", flat=True)) == [
        "2",
        "1",
    ]


def test_accepting_the_same_version_again_keeps_the_first_time(patient) -> None:
    client = authorized(issue_token(patient))
    first = client.post(f"{ME}terms/", {"version": "1"}, format="json").json()["accepted_at"]

    again = client.post(f"{ME}terms/", {"version": "1"}, format="json").json()["accepted_at"]

    assert again == first
    assert TermsAcceptance.objects.filter(user=patient).count() == 1
