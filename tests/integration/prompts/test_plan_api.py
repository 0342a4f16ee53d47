"""GET/PATCH /api/v1/me/plan/, and prompts following sessions written through the API.

The session tests rely on journal's session services calling
integration.prompts.planning.prompts_sync_for_session (settings.JOURNAL_SESSION_HOOKS).
"""

from __future__ import annotations

import datetime as dt

import pytest

from integration.models import PatientTimeline, Prompt, PromptStatus
from tests.integration.factories import make_session, step_of

pytestmark = pytest.mark.usefixtures("frozen_now")

MONDAY = "2026-03-09T10:00:00+01:00"
MONDAY_UTC = dt.datetime(2026, 3, 9, 9, 0, tzinfo=dt.UTC)
PLAN = "/api/v1/me/plan/"


def post_session(client, **fields) -> dict:
    body = {"kind": "dosing", "modality": "iv_infusion", "scheduled_start": MONDAY, **fields}
    response = client.post("/api/v1/sessions/", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def patch_session(client, session: dict, **changes):
    """A PATCH of the session as the API answered it (its version)."""
    return client.patch(
        f"/api/v1/sessions/{session['id']}/",
        {"version": session["version"], **changes},
        format="json",
    )


def live(patient) -> list[Prompt]:
    return list(
        Prompt.objects.filter(patient=patient, status=PromptStatus.SCHEDULED).select_related(
            "exercise"
        )
    )


def test_the_default_plan_until_the_patient_chooses(patient, patient_client) -> None:
    response = patient_client.get(PLAN)

    assert response.status_code == 200
    assert response.json() == {
        "plan": "kap-default",
        "disabled_steps": [],
        "quiet_start": "21:00",
        "quiet_end": "08:00",
        "max_prompts_per_day": 3,
        "time_zone": "Europe/Berlin",
        "updated_at": None,
    }
    assert not PatientTimeline.objects.filter(patient=patient).exists()


def test_patient_chooses_a_plan_quiet_hours_and_a_limit(patient, patient_client) -> None:
    response = patient_client.patch(
        PLAN,
        {
            "plan": "esketamine-course",
            "quiet_start": "22:30",
            "quiet_end": "07:15",
            "max_prompts_per_day": 2,
        },
        format="json",
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["plan"], body["quiet_start"], body["quiet_end"]) == (
        "esketamine-course",
        "22:30",
        "07:15",
    )
    timeline = PatientTimeline.objects.get(patient=patient)
    assert (timeline.plan.slug, timeline.quiet_start, timeline.max_prompts_per_day) == (
        "esketamine-course",
        dt.time(22, 30),
        2,
    )
    assert patient_client.get(PLAN).json() == body


def test_a_session_added_through_the_api_gets_its_prompts(patient, patient_client) -> None:
    post_session(patient_client)

    # The default plan's nine steps, and its four measure steps: the session starts a
    # course, so the PHQ-9 and GAD-7 before it too.
    assert len(live(patient)) == 13


def test_moving_a_session_through_the_api_moves_its_prompts(patient, patient_client) -> None:
    session = post_session(patient_client)
    before = {p.exercise.slug: p.due_at for p in live(patient)}

    response = patch_session(patient_client, session, scheduled_start="2026-03-10T10:00:00+01:00")

    assert response.status_code == 200, response.json()
    after = {p.exercise.slug: p.due_at for p in live(patient)}
    assert after == {slug: due + dt.timedelta(days=1) for slug, due in before.items()}


def test_cancelling_and_deleting_through_the_api_cancel_prompts(patient, patient_client) -> None:
    first = post_session(patient_client)
    second = post_session(patient_client, scheduled_start="2026-04-20T10:00:00+02:00")

    cancelled = patch_session(patient_client, first, status="cancelled")
    deleted = patient_client.delete(f"/api/v1/sessions/{second['id']}/", HTTP_IF_MATCH="*")

    assert (cancelled.status_code, deleted.status_code) == (200, 204)
    assert live(patient) == []
    # Six weeks apart, each session starts a course: 13 prompts each.
    assert Prompt.objects.filter(patient=patient, status=PromptStatus.CANCELLED).count() == 26


def test_recording_the_actual_start_through_the_api_reanchors(patient, patient_client) -> None:
    session = post_session(patient_client)

    response = patch_session(patient_client, session, actual_start="2026-03-09T11:00:00+01:00")

    assert response.status_code == 200, response.json()
    due = {p.exercise.slug: p.due_at for p in live(patient)}
    assert due["after-session-checkin"] == MONDAY_UTC + dt.timedelta(hours=4)
    assert due["readiness-checklist"] == MONDAY_UTC - dt.timedelta(hours=24)


def test_changing_the_plan_resyncs_upcoming_sessions(patient, patient_client) -> None:
    session = make_session(patient, MONDAY_UTC)
    assert Prompt.objects.filter(session=session).count() == 13

    response = patient_client.patch(PLAN, {"plan": "iv-series"}, format="json")

    assert response.status_code == 200
    assert sorted(p.exercise.slug for p in live(patient)) == [
        "after-session-checkin",
        "gad7",
        "gad7",
        "next-day-reflection",
        "phq9",
        "phq9",
        "set-intention",
        "walk-outside",
    ]


def test_switching_steps_off_and_on(patient, patient_client) -> None:
    make_session(patient, MONDAY_UTC)
    # body-scan comes before carry-forward in the plan: the answer lists them in step order.
    steps = [str(step_of("kap-default", slug).public_id) for slug in ("carry-forward", "body-scan")]

    response = patient_client.patch(PLAN, {"disabled_steps": steps}, format="json")

    assert response.status_code == 200
    assert response.json()["disabled_steps"] == steps[::-1]
    assert {p.exercise.slug for p in live(patient)} & {"body-scan", "carry-forward"} == set()
    assert len(live(patient)) == 11

    patient_client.patch(PLAN, {"disabled_steps": []}, format="json")
    assert len(live(patient)) == 13


def test_a_new_plan_switches_all_its_steps_on(patient, patient_client) -> None:
    patient_client.patch(
        PLAN,
        {"disabled_steps": [str(step_of("kap-default", "body-scan").public_id)]},
        format="json",
    )

    response = patient_client.patch(PLAN, {"plan": "iv-series"}, format="json")

    assert response.json()["disabled_steps"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"plan": "no-such-plan"}, "plan"),
        ({"disabled_steps": ["x"]}, "disabled_steps.0"),
        ({"disabled_steps": [5]}, "disabled_steps"),  # an old integer id: no such step
        ({"max_prompts_per_day": 0}, "max_prompts_per_day"),
        ({"max_prompts_per_day": 11}, "max_prompts_per_day"),
        ({"quiet_start": "9pm"}, "quiet_start"),
        ({"quiet_start": "25:00"}, "quiet_start"),
        ({"quiet_start": "08:30", "quiet_end": "08:00"}, "quiet_end"),
        ({"time_zone": "Europe/Paris"}, "non_field_errors"),
    ],
)
def test_invalid_settings_are_refused_and_nothing_changes(
    patient, patient_client, body, field
) -> None:
    response = patient_client.patch(PLAN, body, format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not PatientTimeline.objects.filter(patient=patient).exists()


def test_disabled_steps_must_belong_to_the_chosen_plan(patient, patient_client) -> None:
    patient_client.patch(PLAN, {"max_prompts_per_day": 2}, format="json")
    foreign = str(step_of("iv-series", "walk-outside").public_id)

    response = patient_client.patch(PLAN, {"disabled_steps": [foreign]}, format="json")

    assert response.status_code == 400
    assert "disabled_steps" in response.json()["errors"]
    assert not PatientTimeline.objects.get(patient=patient).disabled_steps.exists()


def test_only_patients_have_a_plan(therapist_client, api_client) -> None:
    assert therapist_client.get(PLAN).status_code == 403
    assert therapist_client.patch(PLAN, {"plan": "iv-series"}, format="json").status_code == 403
    assert api_client.get(PLAN).status_code == 401
