"""Answers written offline are never lost: a prompt that closed while the phone was away
keeps its state, the answer is kept and linked as a late one, and the answer says so; an
intention written before its session keeps its link however late it arrives; a 409 about
a prompt carries the prompt as it is now. The clock stands at 2026-03-02 10:00 UTC."""

from __future__ import annotations

import datetime as dt

import pytest

from integration.models import Prompt, PromptStatus
from journal.models import Entry
from tests.integration.conftest import NOW
from tests.integration.factories import make_prompt, make_session

pytestmark = pytest.mark.usefixtures("frozen_now", "account_a_month_old")

H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)
INBOX = "/api/v1/prompts/"


@pytest.fixture
def account_a_month_old(patient) -> None:
    """A time of writing cannot be before the account existed: this one has for a month."""
    patient.created_at = NOW - 30 * D
    patient.save(update_fields=["created_at"])


def complete(client, prompt, body: dict):
    return client.post(f"{INBOX}{prompt.id}/complete/", body, format="json")


@pytest.mark.parametrize("final", ["expired", "cancelled", "skipped"])
def test_an_answer_to_a_prompt_that_closed_offline_is_kept_and_linked_late(
    patient, patient_client, final
) -> None:
    # Given a prompt that closed while the phone was offline.
    session = make_session(patient, NOW - D, keep_prompts=False)
    prompt = make_prompt(patient, session, exercise_slug="body-scan", due_at=NOW - 5 * H)
    Prompt.objects.filter(pk=prompt.pk).update(status=final)

    # When the answer written two hours ago arrives.
    written = (NOW - 2 * H).isoformat()
    response = complete(
        patient_client, prompt, {"body": "Written on the train.", "written_at": written}
    )

    # Then it is kept, linked to the prompt as a late answer, and the prompt keeps its state.
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["late"]) == (final, True)
    entry = Entry.objects.get(patient=patient)
    assert body["entry"] == body["answer"] == str(entry.pk)
    assert body["answered_late_at"] is not None
    stored = Prompt.objects.get(pk=prompt.pk)
    assert (stored.status, stored.entry_id) == (final, entry.pk)
    read = patient_client.get(f"/api/v1/entries/{entry.pk}/").json()
    assert (read["body"], read["written_at"]) == ("Written on the train.", "2026-03-02T08:00:00Z")


def test_a_repeated_late_answer_answers_as_the_first_did(patient, patient_client) -> None:
    session = make_session(patient, NOW - D, keep_prompts=False)
    prompt = make_prompt(patient, session, exercise_slug="body-scan", due_at=NOW - 5 * H)
    Prompt.objects.filter(pk=prompt.pk).update(status=PromptStatus.EXPIRED)
    sent = {"entry_id": "5f0c7f5e-3c1e-4f55-9a43-3f3f4fbf1a10", "body": "Once."}

    first = complete(patient_client, prompt, sent)
    again = complete(patient_client, prompt, sent)

    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert Entry.objects.filter(patient=patient).count() == 1


def test_an_open_prompt_answered_offline_is_completed_as_written(patient, patient_client) -> None:
    session = make_session(patient, NOW - D, keep_prompts=False)
    prompt = make_prompt(patient, session, exercise_slug="body-scan", due_at=NOW - 5 * H)

    response = complete(
        patient_client, prompt, {"body": "Calm.", "written_at": (NOW - H).isoformat()}
    )

    assert response.status_code == 200, response.json()
    assert (response.json()["status"], response.json()["late"]) == ("completed", False)


def test_an_intention_written_before_its_session_keeps_the_link_when_sent_after(
    patient, patient_client
) -> None:
    # Given a dosing session that started an hour ago, and an intention prompt for it.
    session = make_session(patient, NOW - H, keep_prompts=False)
    prompt = make_prompt(patient, session, exercise_slug="set-intention", due_at=NOW - 5 * H)

    # When the intention written before the start arrives after it.
    response = complete(
        patient_client,
        prompt,
        {"body": "Let it come.", "written_at": (NOW - 2 * H).isoformat()},
    )

    # Then it is an intention of that session.
    assert response.status_code == 200, response.json()
    entry = Entry.objects.get(pk=response.json()["answer"])
    assert (entry.kind, entry.session_id) == ("intention", session.pk)


def test_a_refused_transition_carries_the_prompt_as_it_is_now(patient, patient_client) -> None:
    session = make_session(patient, NOW - D, keep_prompts=False)
    prompt = make_prompt(patient, session, exercise_slug="body-scan", due_at=NOW - 5 * H)
    Prompt.objects.filter(pk=prompt.pk).update(status=PromptStatus.EXPIRED)

    response = patient_client.post(f"{INBOX}{prompt.id}/skip/", {}, format="json")

    assert (response.status_code, response.json()["code"]) == (409, "invalid_transition")
    current = response.json()["current"]
    assert (current["id"], current["status"]) == (str(prompt.id), "expired")


def test_a_prompt_not_yet_due_refuses_an_answer_with_its_current_state(
    patient, patient_client
) -> None:
    session = make_session(patient, NOW + 3 * D, keep_prompts=False)
    prompt = make_prompt(
        patient, session, exercise_slug="body-scan", status="scheduled", due_at=NOW + D
    )

    response = complete(patient_client, prompt, {"body": "Early."})

    assert (response.status_code, response.json()["code"]) == (409, "invalid_transition")
    assert response.json()["current"]["status"] == "scheduled"
    assert not Entry.objects.filter(patient=patient).exists()


def test_an_answer_from_a_phone_whose_clock_runs_ahead_completes_the_prompt(
    patient, patient_client
) -> None:
    # Given a prompt due in two minutes by the server's clock, which a phone three minutes
    # ahead already shows (it reminds from the synced due time).
    session = make_session(patient, NOW - D, keep_prompts=False)
    prompt = make_prompt(
        patient,
        session,
        exercise_slug="body-scan",
        status="scheduled",
        due_at=NOW + 2 * dt.timedelta(minutes=1),
    )

    # When the patient answers it at once, by the phone's clock.
    written = (NOW + 3 * dt.timedelta(minutes=1)).isoformat()
    response = complete(patient_client, prompt, {"body": "Calm.", "written_at": written})

    # Then the prompt is completed: not left scheduled (to be pushed and shown again)
    # with an answer called late.
    assert response.status_code == 200, response.json()
    assert (response.json()["status"], response.json()["late"]) == ("completed", False)
    stored = Prompt.objects.get(pk=prompt.pk)
    assert (stored.status, stored.answered_late_at) == (PromptStatus.COMPLETED, None)
