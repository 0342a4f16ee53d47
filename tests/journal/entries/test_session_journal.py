"""The session journal: a dosing session with the intentions before it and reflections after."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from tests.journal.factories import make_entry, make_session

pytestmark = pytest.mark.django_db


def journal_url(session_id) -> str:
    return f"/api/v1/sessions/{session_id}/journal/"


def test_shows_intentions_and_reflections_of_a_dosing_session_in_time_order(
    patient_client, patient
) -> None:
    # Given a dosing session tomorrow, two intentions before it and, after it, a reflection
    # on one of them, a check-in, a deleted reflection and an entry of another session
    start = timezone.now()
    session = make_session(patient, scheduled_start=start + timedelta(days=1), note="IV #2")
    other_session = make_session(patient, kind="integration")
    with time_machine.travel(start, tick=False):
        first = make_entry(patient, kind="intention", session_id=session.id, title="first")
    with time_machine.travel(start + timedelta(hours=1), tick=False):
        second = make_entry(patient, kind="intention", session_id=session.id, title="second")
    with time_machine.travel(start + timedelta(days=2), tick=False):
        reflection = make_entry(
            patient,
            kind="reflection",
            session_id=session.id,
            title="after",
            intention_ids=[second.id],
        )
        deleted = make_entry(patient, kind="reflection", session_id=session.id)
        checkin = make_entry(patient, kind="checkin", session_id=session.id, mood=6)
    make_entry(patient, kind="note", session_id=other_session.id)
    patient_client.delete(f"/api/v1/entries/{deleted.id}/", HTTP_IF_MATCH="*")

    # When the patient opens the session journal
    response = patient_client.get(journal_url(session.id))

    # Then it holds the session and its live entries by kind, oldest first
    assert response.status_code == 200
    body = response.json()
    assert body["session"]["id"] == str(session.id)
    assert body["session"]["note"] == "IV #2"
    assert [e["id"] for e in body["intentions"]] == [str(first.id), str(second.id)]
    assert [e["title"] for e in body["intentions"]] == ["first", "second"]
    assert [e["id"] for e in body["reflections"]] == [str(reflection.id)]
    assert body["reflections"][0]["intention_ids"] == [str(second.id)]
    assert [e["id"] for e in body["other_entries"]] == [str(checkin.id)]
    assert body["other_entries"][0]["mood"] == 6


def test_journal_of_a_session_without_entries_is_empty(patient_client, patient) -> None:
    session = make_session(patient)

    body = patient_client.get(journal_url(session.id)).json()

    assert (body["intentions"], body["reflections"], body["other_entries"]) == ([], [], [])


def test_journal_of_a_deleted_session_is_410_gone(patient_client, patient) -> None:
    session = make_session(patient)
    patient_client.delete(f"/api/v1/sessions/{session.id}/", HTTP_IF_MATCH="*")

    response = patient_client.get(journal_url(session.id))

    assert (response.status_code, response.json()["code"]) == (410, "gone")


def test_journal_of_another_patients_session_is_404(other_client, patient) -> None:
    session = make_session(patient)
    make_entry(patient, kind="intention", session_id=session.id, body="mine")

    response = other_client.get(journal_url(session.id))

    assert response.status_code == 404
    assert "mine" not in response.content.decode()


def test_journal_uses_a_constant_number_of_queries(
    patient_client, patient, django_assert_max_num_queries
) -> None:
    session = make_session(patient, scheduled_start=timezone.now() + timedelta(hours=1))
    intentions = [make_entry(patient, kind="intention", session_id=session.id) for _ in range(10)]
    with time_machine.travel(timezone.now() + timedelta(days=1)):
        for intention in intentions:
            make_entry(
                patient, kind="reflection", session_id=session.id, intention_ids=[intention.id]
            )

    with django_assert_max_num_queries(4):
        body = patient_client.get(journal_url(session.id)).json()

    assert len(body["reflections"]) == 10
