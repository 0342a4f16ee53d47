"""Sign-in, registration and enrolment are rate limited (DRF scoped throttles)."""

from __future__ import annotations

import pytest
from rest_framework.throttling import ScopedRateThrottle

from backend.accounts.models import User
from tests.accounts.helpers import assert_problem

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_a_minute(monkeypatch):
    # DRF reads the rates into the class when it is defined, so patch the class.
    monkeypatch.setattr(
        ScopedRateThrottle,
        "THROTTLE_RATES",
        {"login": "2/min", "register": "2/min", "otp": "2/min"},
    )


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/v1/auth/login/", {"email": "a@example.org", "password": "x"}),
        ("/api/v1/auth/register/", {"email": "a@example.org"}),
        ("/api/v1/auth/enrol/", {"email": "a@example.org", "code": "x", "password": "x"}),
        ("/api/v1/auth/enrol/confirm/", {"email": "a@example.org", "code": "x", "otp": "1"}),
    ],
)
def test_third_request_in_a_minute_answers_429_with_retry_after(
    api_client, two_a_minute, url, body
):
    for _ in range(2):
        assert api_client.post(url, body).status_code != 429

    response = api_client.post(url, body)

    problem = assert_problem(response, 429, "throttled")
    assert 0 < int(response["Retry-After"]) <= 60
    assert problem["retry_after_seconds"] > 0


def test_throttled_registration_creates_nothing(api_client, two_a_minute):
    body = {"email": "x@example.org", "password": "correct horse battery", "display_name": "X"}
    api_client.post("/api/v1/auth/register/", {"email": "bad"})
    api_client.post("/api/v1/auth/register/", {"email": "bad"})

    response = api_client.post("/api/v1/auth/register/", body)

    assert response.status_code == 429
    assert User.objects.count() == 0


def test_another_address_has_its_own_allowance(api_client, two_a_minute):
    for _ in range(3):
        api_client.post("/api/v1/auth/login/", {"email": "a@example.org", "password": "x"})

    response = api_client.post(
        "/api/v1/auth/login/",
        {"email": "a@example.org", "password": "x"},
        REMOTE_ADDR="198.51.100.7",
    )

    assert response.status_code != 429
