"""GET /api/v1/auth/devices/ and DELETE /api/v1/auth/devices/{id}/."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from backend.accounts.models import DeviceToken
from tests.accounts.factories import PatientFactory, issue_token
from tests.accounts.helpers import assert_problem, authorized

pytestmark = pytest.mark.django_db

URL = "/api/v1/auth/devices/"


def test_lists_own_devices_and_marks_the_current_one(patient):
    phone = issue_token(patient, name="phone")
    issue_token(patient, name="tablet")
    issue_token(PatientFactory.create(), name="someone else's")

    response = authorized(phone).get(URL)

    assert response.status_code == 200
    devices = {device["name"]: device for device in response.json()["results"]}
    assert set(devices) == {"phone", "tablet"}
    assert devices["phone"]["is_current"] is True
    assert devices["tablet"]["is_current"] is False
    assert devices["phone"]["id"] == phone[:15]
    assert set(devices["phone"]) == {
        "id",
        "name",
        "created_at",
        "last_used_at",
        "expires_at",
        "is_current",
        "push",
    }
    assert devices["phone"]["push"] is None
    assert devices["phone"]["last_used_at"] is not None
    assert devices["tablet"]["last_used_at"] is None


def test_lists_no_secrets(patient):
    phone = issue_token(patient, name="phone")

    content = authorized(phone).get(URL).content.decode()

    assert phone not in content
    assert DeviceToken.objects.get().digest not in content


def test_expired_tokens_are_not_listed(patient):
    with time_machine.travel(timezone.now() - timedelta(days=31)):
        issue_token(patient, name="old phone")
    phone = issue_token(patient, name="phone")

    names = [device["name"] for device in authorized(phone).get(URL).json()["results"]]

    assert names == ["phone"]


def test_list_needs_no_more_than_a_few_queries(patient, django_assert_max_num_queries):
    phone = issue_token(patient)
    for index in range(5):
        issue_token(patient, name=f"device {index}")

    # The token, its renewal and last use (written once a minute), the list, the pushes.
    with django_assert_max_num_queries(5):
        authorized(phone).get(URL)


def test_revokes_another_device_of_ones_own(patient):
    phone, tablet = issue_token(patient, name="phone"), issue_token(patient, name="tablet")

    response = authorized(phone).delete(f"{URL}{tablet[:15]}/")

    assert response.status_code == 204
    assert_problem(authorized(tablet).get("/api/v1/me/"), 401, "authentication_failed")
    assert authorized(phone).get("/api/v1/me/").status_code == 200


def test_someone_elses_device_answers_404_and_stays_signed_in(patient):
    phone = issue_token(patient)
    other = issue_token(PatientFactory.create())

    response = authorized(phone).delete(f"{URL}{other[:15]}/")

    assert_problem(response, 404, "not_found")
    assert DeviceToken.objects.count() == 2
    assert authorized(other).get("/api/v1/me/").status_code == 200


def test_unknown_device_answers_404(patient):
    phone = issue_token(patient)

    response = authorized(phone).delete(f"{URL}nosuchtoken0000/")

    assert_problem(response, 404, "not_found")
    assert DeviceToken.objects.count() == 1
