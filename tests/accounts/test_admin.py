"""The admin shows accounts, and only the metadata of tokens and enrolment codes."""

from __future__ import annotations

import pytest
from django.test import Client

from backend.accounts.models import DeviceToken, EnrolmentCode, User
from backend.accounts.services import therapist_create
from tests.accounts.factories import UserFactory, issue_token
from tests.accounts.helpers import admin_client_for, login

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(patient, admin_enabled) -> Client:
    staff = UserFactory.create(email="staff@example.org", is_staff=True, is_superuser=True)
    return admin_client_for(staff)


def test_user_pages_open(admin_client, patient):
    assert admin_client.get("/admin/accounts/user/").status_code == 200
    assert admin_client.get("/admin/accounts/user/add/").status_code == 200
    page = admin_client.get(f"/admin/accounts/user/{patient.pk}/change/")
    assert page.status_code == 200
    assert patient.password not in page.content.decode()


def test_admin_creates_users_with_lower_case_addresses(admin_client):
    response = admin_client.post(
        "/admin/accounts/user/add/",
        {
            "email": "New.Person@Example.org",
            "display_name": "New",
            "time_zone": "UTC",
            "role": "patient",
            "usable_password": "false",
        },
    )

    assert response.status_code == 302, response.content
    assert User.objects.filter(email="new.person@example.org").exists()


def test_device_tokens_are_listed_without_their_digest(admin_client, patient):
    token = issue_token(patient, name="Anna's phone")

    page = admin_client.get("/admin/accounts/devicetoken/").content.decode()

    assert "Anna&#x27;s phone" in page
    assert DeviceToken.objects.get().digest not in page
    assert token not in page


def test_enrolment_codes_are_listed_without_code_or_hash(admin_client):
    new = therapist_create(email="dr.new@example.org", display_name="Dr New")
    stored = EnrolmentCode.objects.get()

    listing = admin_client.get("/admin/accounts/enrolmentcode/").content.decode()
    detail = admin_client.get(f"/admin/accounts/enrolmentcode/{stored.pk}/change/").content.decode()

    assert "dr.new@example.org" in listing
    for page in (listing, detail):
        assert stored.code_hash not in page
        assert new.enrolment_code not in page


def test_admin_changes_an_address_to_lower_case_and_the_account_still_signs_in(
    admin_client, patient, api_client
):
    response = admin_client.post(
        f"/admin/accounts/user/{patient.pk}/change/",
        {
            "email": "Anna.New@Example.org",
            "display_name": patient.display_name,
            "time_zone": patient.time_zone,
            "role": "patient",
            "is_active": "on",
        },
    )

    assert response.status_code == 302, response.content
    assert User.objects.get(pk=patient.pk).email == "anna.new@example.org"
    assert login(api_client, "anna.new@example.org").status_code == 200


# 249 characters as typed; 489 lower-cased ("İ" becomes "i" and a combining dot).
GROWS_WHEN_LOWERED = "a@" + ".".join(["İ" * 60] * 4) + ".com"


def test_an_address_too_long_once_lower_cased_is_a_form_error_not_a_500(admin_client, patient):
    added = admin_client.post(
        "/admin/accounts/user/add/",
        {
            "email": GROWS_WHEN_LOWERED,
            "display_name": "New",
            "time_zone": "UTC",
            "role": "patient",
            "usable_password": "false",
        },
    )
    changed = admin_client.post(
        f"/admin/accounts/user/{patient.pk}/change/",
        {
            "email": GROWS_WHEN_LOWERED,
            "display_name": patient.display_name,
            "time_zone": patient.time_zone,
            "role": "patient",
            "is_active": "on",
        },
    )

    for response in (added, changed):
        assert response.status_code == 200, response.content
        assert "at most 254 characters" in response.content.decode()
    assert User.objects.get(pk=patient.pk).email == patient.email
