"""Sign-in, registration and enrolment are rate limited (DRF scoped throttles)."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.conf import settings
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
        dict.fromkeys(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "2/min"),
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


@pytest.fixture
def cache_unreachable(settings):
    """The cache (Redis) on a port where nothing listens: as when Redis is down."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2},
        }
    }


def test_with_the_cache_down_registration_and_sign_in_still_work(
    api_client, cache_unreachable, caplog
):
    registered = api_client.post(
        "/api/v1/auth/register/",
        {"email": "night@example.org", "password": "long enough password 1", "display_name": "N"},
        format="json",
    )
    assert registered.status_code == 202, registered.content
    assert User.objects.filter(email="night@example.org").exists()
    User.objects.create_user(
        email="day@example.org", password="long enough password 1", display_name="D"
    )

    signed_in = api_client.post(
        "/api/v1/auth/login/",
        {"email": "day@example.org", "password": "long enough password 1"},
        format="json",
    )
    assert signed_in.status_code == 200, signed_in.content
    assert "token" in signed_in.json()
    warnings = [r for r in caplog.records if r.getMessage().startswith("throttle store")]
    assert {(r.scope, r.error) for r in warnings} == {
        ("register", "ConnectionError"),
        ("account_email_address", "ConnectionError"),
        ("login", "ConnectionError"),
    }


def test_with_the_cache_down_failed_sign_ins_still_lock_the_account(api_client, cache_unreachable):
    """The lock-out after failed attempts lives in PostgreSQL (django-axes), so it holds
    while the throttle cannot count."""
    User.objects.create_user(
        email="locked@example.org", password="long enough password 1", display_name="L"
    )
    body = {"email": "locked@example.org", "password": "wrong password here"}
    statuses = [api_client.post("/api/v1/auth/login/", body).status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 401, 429]  # the fifth failure locks (AXES_FAILURE_LIMIT)
    assert AccessAttempt.objects.get(username="locked@example.org").failures_since_start == 5
    right = {"email": "locked@example.org", "password": "long enough password 1"}
    locked = api_client.post("/api/v1/auth/login/", right)
    assert_problem(locked, 429, "locked_out")
    assert "token" not in locked.json()
