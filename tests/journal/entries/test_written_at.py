"""The client's time of writing: kept, shown back, bounded, and used for the link rules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from journal.models import Entry
from tests.journal.factories import make_session

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("account_a_month_old")]


@pytest.fixture
def account_a_month_old(patient) -> None:
    """A time of writing cannot be before the account existed: this one has for a month."""
    patient.created_at = timezone.now() - timedelta(days=30)
    patient.save(update_fields=["created_at"])


URL = "/api/v1/entries/"


def test_an_intention_written_before_its_session_and_sent_after_is_accepted(
    patient_client, patient
) -> None:
    # Given a dosing session that started an hour ago.
    session = make_session(patient, scheduled_start=timezone.now() - timedelta(hours=1))
    written = timezone.now() - timedelta(hours=3)

    # When the intention written three hours ago (before the start) arrives now.
    response = patient_client.post(
        URL,
        {"kind": "intention", "session": str(session.id), "written_at": written.isoformat()},
        format="json",
    )

    # Then it is accepted as written before the session.
    assert response.status_code == 201, response.json()
    assert response.json()["session"] == str(session.id)


def test_an_intention_written_after_the_start_is_still_refused(patient_client, patient) -> None:
    session = make_session(patient, scheduled_start=timezone.now() - timedelta(hours=1))

    response = patient_client.post(
        URL,
        {
            "kind": "intention",
            "session": str(session.id),
            "written_at": (timezone.now() - timedelta(minutes=10)).isoformat(),
        },
        format="json",
    )

    assert response.status_code == 400
    assert "session" in response.json()["errors"]
    assert not Entry.objects.exists()


def test_the_time_of_writing_is_shown_back_and_defaults_to_the_arrival(
    patient_client, patient
) -> None:
    written = (timezone.now() - timedelta(days=1)).replace(microsecond=0)
    with_time = patient_client.post(
        URL, {"kind": "note", "body": "Yesterday.", "written_at": written.isoformat()}
    )
    without = patient_client.post(URL, {"kind": "note", "body": "Now."})

    assert with_time.status_code == without.status_code == 201
    assert with_time.json()["written_at"] == written.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert without.json()["written_at"] == without.json()["created_at"]


@pytest.mark.parametrize(
    ("shift", "message"),
    [
        pytest.param(timedelta(hours=1), "future", id="future"),
        pytest.param(-timedelta(days=3650), "before this account", id="before-account"),
    ],
)
def test_an_impossible_time_of_writing_is_refused(patient_client, shift, message) -> None:
    response = patient_client.post(
        URL,
        {"kind": "note", "body": "x", "written_at": (timezone.now() + shift).isoformat()},
    )

    assert response.status_code == 400
    assert message in response.json()["errors"]["written_at"][0]
    assert not Entry.objects.exists()


def test_a_session_note_keeps_its_time_of_writing(patient_client) -> None:
    written = (timezone.now() - timedelta(hours=5)).replace(microsecond=0)
    response = patient_client.post(
        "/api/v1/sessions/",
        {
            "kind": "integration",
            "scheduled_start": timezone.now().isoformat(),
            "note": "Felt heard.",
            "written_at": written.isoformat(),
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    assert response.json()["written_at"] == written.strftime("%Y-%m-%dT%H:%M:%SZ")
