"""Token lifetime (backend/accounts/lifetimes.py: patients stay signed in while they use the
app, therapists' tokens are short and end at a maximum age) and the token check itself,
each through the hand-written lookup (`fast`, backend.sql) and the ORM's (`general`, as on
SQLite)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from backend import sql
from backend.accounts import services
from backend.accounts.models import DeviceToken
from tests.accounts.factories import issue_token
from tests.accounts.helpers import assert_problem, authorized

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True, params=["fast", "general"])
def lookup(request, monkeypatch) -> str:
    if request.param == "general":
        monkeypatch.setattr(sql, "is_available", lambda: False)
    return str(request.param)


MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)


def _me(token):
    return authorized(token).get("/api/v1/me/")


def _signed_in(user) -> str:
    """A token as sign-in issues it (with the user's lifetime)."""
    return services.device_token_create(user=user, device_name="phone").token


def test_a_patients_unused_token_works_until_the_idle_time(patient, settings):
    idle = timedelta(days=settings.PATIENT_TOKEN_IDLE_DAYS)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        token = _signed_in(patient)
        clock.shift(idle - MINUTE)

        response = _me(token)

    assert response.status_code == 200


def test_a_patients_unused_token_expires_after_the_idle_time(patient, settings):
    idle = timedelta(days=settings.PATIENT_TOKEN_IDLE_DAYS)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        token = _signed_in(patient)
        clock.shift(idle + MINUTE)

        response = _me(token)

    assert_problem(response, 401, "authentication_failed")
    assert not DeviceToken.objects.exists()


def test_a_patient_who_uses_the_app_stays_signed_in_with_no_fixed_end(patient, settings):
    """A year of use, a request every three weeks (and a week offline here and there):
    the token never dies, where it used to die at 30 days whatever happened."""
    with time_machine.travel(timezone.now(), tick=False) as clock:
        token = _signed_in(patient)
        for _ in range(18):
            clock.shift(timedelta(days=21))
            assert _me(token).status_code == 200

        # and once it is left unused for the idle time, it ends
        clock.shift(timedelta(days=settings.PATIENT_TOKEN_IDLE_DAYS) + MINUTE)
        assert_problem(_me(token), 401, "authentication_failed")


def test_a_therapists_token_slides_briefly_and_ends_at_the_maximum_age(therapist, settings):
    idle = timedelta(hours=settings.THERAPIST_TOKEN_IDLE_HOURS)
    max_age = timedelta(days=settings.THERAPIST_TOKEN_MAX_DAYS)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        token = services.device_token_create(user=therapist, is_second_factor_verified=True).token
        created = DeviceToken.objects.get().created

        # Given the token used a little before each expiry, past the first idle time
        elapsed = timedelta(0)
        step = idle - timedelta(hours=1)
        while elapsed + step < max_age:
            clock.shift(step)
            elapsed += step
            assert _me(token).status_code == 200, elapsed
        assert elapsed > idle

        # then the expiry stops at the maximum age
        assert DeviceToken.objects.get().expiry == created + max_age
        clock.move_to(created + max_age + MINUTE)
        response = _me(token)

    assert_problem(response, 401, "authentication_failed")


def test_a_therapists_unused_token_ends_after_the_short_idle_time(therapist, settings):
    idle = timedelta(hours=settings.THERAPIST_TOKEN_IDLE_HOURS)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        token = services.device_token_create(user=therapist, is_second_factor_verified=True).token
        clock.shift(idle + MINUTE)

        response = _me(token)

    assert_problem(response, 401, "authentication_failed")


def test_renewal_writes_at_most_once_a_minute(patient, django_assert_num_queries):
    token = _signed_in(patient)
    client = authorized(token)
    client.get("/api/v1/me/")  # renews and records the last use

    # The token lookup, and /me/'s read of the terms accepted: no write.
    with django_assert_num_queries(2):
        assert client.get("/api/v1/me/").status_code == 200


def test_last_use_is_recorded(patient):
    token = issue_token(patient)

    _me(token)

    assert DeviceToken.objects.get().last_used_at is not None


def test_a_request_looks_up_only_the_token_it_presents(patient, django_assert_num_queries):
    """knox would load every other token of the user on each request to sweep expired
    ones; signing in does that sweep here, so authentication is one query."""
    token = issue_token(patient)
    for _ in range(3):
        issue_token(patient)  # other devices
    client = authorized(token)
    client.get("/api/v1/me/")  # records the last use (a write once a minute)
    # /me/ itself reads one row beyond the token: the terms the patient accepted last.
    with django_assert_num_queries(2) as queries:
        assert client.get("/api/v1/me/").status_code == 200
    assert "token_key" in queries.captured_queries[0]["sql"]
    assert "accounts_termsacceptance" in queries.captured_queries[1]["sql"]


def test_an_expired_token_is_deleted_when_presented(patient, settings):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        token = issue_token(patient)
        other = issue_token(patient)
        clock.shift(timedelta(days=settings.PATIENT_TOKEN_IDLE_DAYS) + MINUTE)
        assert_problem(_me(token), 401, "authentication_failed")
        # The presented one is gone; the other expired one goes at the next sign-in.
        assert DeviceToken.objects.filter(user=patient).count() == 1
        assert_problem(_me(other), 401, "authentication_failed")
        assert DeviceToken.objects.filter(user=patient).count() == 0


def test_the_token_signs_in_its_own_user_with_every_field(patient):
    response = _me(issue_token(patient))
    assert response.status_code == 200
    assert response.json()["email"] == patient.email


@pytest.mark.parametrize(
    "header",
    [
        "wrong",  # the right first characters, a different token
        "not a token",
        "",
    ],
)
def test_a_token_that_does_not_match_is_401(patient, header):
    token = issue_token(patient)
    presented = (
        token[:8] + ("0" if token[8] != "0" else "1") + token[9:] if header == "wrong" else header
    )
    response = authorized(presented).get("/api/v1/me/")
    assert_problem(response, 401, "authentication_failed")
    assert DeviceToken.objects.filter(user=patient).count() == 1


def test_a_header_that_is_not_utf8_is_401(patient, client):
    issue_token(patient)
    response = client.get("/api/v1/me/", HTTP_AUTHORIZATION="Token \xff\xfe")
    assert_problem(response, 401, "authentication_failed")


def test_an_inactive_users_token_is_401(patient):
    token = issue_token(patient)
    patient.is_active = False
    patient.save(update_fields=["is_active"])
    assert_problem(_me(token), 401, "authentication_failed")
