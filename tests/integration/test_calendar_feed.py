"""The calendar feed's settings and its secret URL: turned on once, rotated, turned off;
the secret stored only as a digest; unknown, rotated and turned-off URLs answering the
same 404; reads throttled and written to the patient's access events."""

from __future__ import annotations

import hashlib
import logging

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from backend.accounts import services as account_services
from integration.calendar_feed.models import CalendarFeed
from integration.models import AccessEvent
from tests.accounts.factories import PASSWORD, PatientFactory
from tests.accounts.helpers import assert_problem, without_request_id
from tests.conftest import client_for
from tests.integration.calendar_feed_data import FEED_PATH, feed_path, read, turn_on
from tests.integration.factories import make_session
from tests.threads import at_once

pytestmark = pytest.mark.django_db

UNKNOWN = "/api/v1/calendar/" + "A" * 43 + ".ics"


def test_it_is_off_until_turned_on(patient_client):
    response = patient_client.get(FEED_PATH)

    assert response.status_code == 200
    assert response.json() == {
        "enabled": False,
        "plain_titles": False,
        "created_at": None,
        "last_read_at": None,
    }
    assert not CalendarFeed.objects.exists()


def test_turning_on_answers_the_url_once(patient_client, patient):
    response = patient_client.post(FEED_PATH)

    assert response.status_code == 201
    body = response.json()
    assert body["enabled"] is True
    assert body["plain_titles"] is False
    assert body["created_at"].endswith("Z")
    assert body["last_read_at"] is None
    assert body["url"].startswith("http://testserver/api/v1/calendar/")
    assert body["url"].endswith(".ics")
    assert body["webcal_url"] == "webcal://" + body["url"].removeprefix("http://")
    # The settings never show the address again.
    assert "url" not in patient_client.get(FEED_PATH).json()


def test_the_url_uses_the_public_base_when_set(patient_client, settings):
    settings.CALENDAR_FEED_BASE_URL = "https://api.afterglow.example"

    body = patient_client.post(FEED_PATH).json()

    assert body["url"].startswith("https://api.afterglow.example/api/v1/calendar/")
    assert body["webcal_url"].startswith("webcal://api.afterglow.example/api/v1/calendar/")


def test_the_database_holds_only_a_digest_of_the_secret(patient_client, patient):
    path = turn_on(patient_client)
    token = path.removeprefix("/api/v1/calendar/").removesuffix(".ics")

    assert len(token) == 43  # 32 random bytes, base64url
    feed = CalendarFeed.objects.get(patient=patient)
    assert feed.token_hash == hashlib.sha256(token.encode()).hexdigest()
    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(f)::text FROM integration_calendarfeed f")
        (row,) = cursor.fetchone()
    assert token not in row
    read(path)
    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(a)::text FROM integration_accessevent a")
        assert all(token not in text for (text,) in cursor.fetchall())


def test_turning_on_again_leaves_one_live_url(patient_client, patient):
    path = turn_on(patient_client)

    response = patient_client.post(FEED_PATH)

    assert_problem(response, 409, "calendar_feed_enabled")
    assert response.json()["current"] == patient_client.get(FEED_PATH).json()
    assert response.json()["current"]["enabled"] is True
    assert CalendarFeed.objects.filter(token_hash__isnull=False).count() == 1
    read(path)  # the first one still works, and is the only one


def test_rotating_ends_the_old_url_at_once(patient_client):
    old = turn_on(patient_client)

    response = patient_client.post(FEED_PATH + "rotate/")

    assert response.status_code == 200
    new = feed_path(response.json()["url"])
    assert new != old
    assert_problem(APIClient().get(old), 404, "not_found")
    read(new)


def test_rotating_a_feed_that_is_off_is_refused(patient_client):
    response = patient_client.post(FEED_PATH + "rotate/")

    assert_problem(response, 409, "calendar_feed_disabled")
    assert response.json()["current"]["enabled"] is False
    assert not CalendarFeed.objects.filter(token_hash__isnull=False).exists()


def test_turning_off_ends_the_url_and_keeps_the_title_setting(patient_client):
    path = turn_on(patient_client)
    patient_client.patch(FEED_PATH, {"plain_titles": True}, format="json")

    response = patient_client.delete(FEED_PATH)

    assert response.status_code == 204
    assert_problem(APIClient().get(path), 404, "not_found")
    assert patient_client.get(FEED_PATH).json() == {
        "enabled": False,
        "plain_titles": True,
        "created_at": None,
        "last_read_at": None,
    }
    assert patient_client.delete(FEED_PATH).status_code == 204  # off again: no error
    again = turn_on(patient_client)
    assert again != path
    assert_problem(APIClient().get(path), 404, "not_found")


def test_unknown_rotated_and_disabled_urls_answer_alike(patient_client, other_client):
    rotated = turn_on(patient_client)
    patient_client.post(FEED_PATH + "rotate/")
    disabled = turn_on(other_client)
    other_client.delete(FEED_PATH)

    answers = [
        APIClient().get(path) for path in (UNKNOWN, rotated, disabled, "/api/v1/calendar/x.ics")
    ]

    bodies = {
        (response.status_code, response["Content-Type"], str(without_request_id(response.json())))
        for response in answers
    }
    assert len(bodies) == 1
    assert_problem(answers[0], 404, "not_found")


def test_every_lookup_takes_the_same_one_query(patient_client):
    rotated = turn_on(patient_client)
    patient_client.post(FEED_PATH + "rotate/")

    statements = []
    for path in (UNKNOWN, rotated):
        with CaptureQueriesContext(connection) as queries:
            APIClient().get(path)
        statements.append([query["sql"] for query in queries.captured_queries])

    unknown, old = statements
    assert len(unknown) == len(old)
    selects = [sql for sql in unknown if sql.startswith("SELECT")]
    assert len(selects) == 1
    assert "integration_calendarfeed" in selects[0]


def test_a_closed_account_serves_nothing(patient_client, patient):
    path = turn_on(patient_client)
    patient.is_active = False
    patient.save(update_fields=["is_active"])

    assert_problem(APIClient().get(path), 404, "not_found")


def test_signing_out_everywhere_turns_the_feed_off(patient_client, patient):
    path = turn_on(patient_client)

    account_services.user_end_all_sessions(user=patient)

    assert_problem(APIClient().get(path), 404, "not_found")
    assert patient_client.get(FEED_PATH).json()["enabled"] is False


def test_the_titles_setting_is_refused_with_an_unknown_field(patient_client):
    response = patient_client.patch(FEED_PATH, {"plain_title": True}, format="json")

    assert_problem(response, 400, "validation")
    assert not CalendarFeed.objects.exists()


def test_only_patients_manage_a_feed(therapist_client, api_client):
    assert_problem(therapist_client.post(FEED_PATH), 403, "permission_denied")
    assert_problem(api_client.get(FEED_PATH), 401, "not_authenticated")
    assert not CalendarFeed.objects.exists()


def test_each_read_is_an_access_event_the_patient_lists(patient_client, patient):
    path = turn_on(patient_client)

    read(path, address="203.0.113.9")
    read(path)

    events = AccessEvent.objects.filter(patient=patient)
    assert events.count() == 2
    event = events.order_by("id").first()
    assert event is not None
    assert (event.action, event.via, event.actor_id) == (
        "calendar_feed.read",
        "calendar",
        patient.pk,
    )
    assert event.ip_address == "203.0.113.9"
    listed = patient_client.get("/api/v1/me/access-events/").json()["results"]
    assert [item["action"] for item in listed] == ["calendar_feed.read"] * 2
    assert listed[0]["via"] == "calendar"
    settings = patient_client.get(FEED_PATH).json()
    assert settings["last_read_at"] is not None


def test_reads_are_throttled_per_url_with_a_problem(patient_client, other_client, monkeypatch):
    rates = {"calendar_feed": "2/min", "calendar_feed_address": "100/min"}
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", rates)
    path = turn_on(patient_client)
    other = turn_on(other_client)
    read(path)
    read(path)

    response = APIClient().get(path)

    body = assert_problem(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0
    assert body["retry_after_seconds"] > 0
    read(other)  # another URL has its own count
    assert AccessEvent.objects.filter(action="calendar_feed.read").count() == 3


def test_reads_are_throttled_per_address(patient_client, monkeypatch):
    rates = {"calendar_feed": "100/min", "calendar_feed_address": "2/min"}
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", rates)
    path = turn_on(patient_client)
    APIClient().get(UNKNOWN, REMOTE_ADDR="198.51.100.7")
    APIClient().get(UNKNOWN.replace("A", "B"), REMOTE_ADDR="198.51.100.7")

    assert_problem(APIClient().get(path, REMOTE_ADDR="198.51.100.7"), 429, "throttled")
    read(path, address="198.51.100.8")


def test_the_secret_stays_out_of_the_access_log(patient_client, caplog):
    path = turn_on(patient_client)
    token = path.removeprefix("/api/v1/calendar/").removesuffix(".ics")

    with caplog.at_level(logging.INFO, logger="afterglow.access"):
        read(path)
        APIClient().get(UNKNOWN)

    paths = [getattr(record, "path", "") for record in caplog.records]
    assert "/api/v1/calendar/<str:token>.ics" in paths
    assert all(token not in record.getMessage() + str(record.__dict__) for record in caplog.records)


def test_a_session_in_the_feed_is_read_back(patient_client, patient, frozen_now):
    path = turn_on(patient_client)
    session = make_session(patient, frozen_now.replace(day=9, hour=8))

    document = read(path)

    assert f"session-{session.id}@calendar.afterglow".encode() in document.replace(b"\r\n ", b"")


def test_erasing_the_account_deletes_the_feed(db):
    patient = PatientFactory.create(email="erase@example.org")
    path = turn_on(client_for(patient))

    account_services.user_erase(user=patient, password=PASSWORD)

    assert not CalendarFeed.objects.filter(patient=patient).exists()
    assert_problem(APIClient().get(path), 404, "not_found")


@pytest.mark.django_db(transaction=True)
def test_two_turn_ons_at_once_leave_one_live_url(patient):
    statuses = sorted(at_once(lambda: client_for(patient).post(FEED_PATH).status_code))

    assert statuses == [201, 409]
    assert CalendarFeed.objects.filter(token_hash__isnull=False).count() == 1
