"""Measure steps: a PHQ-9 and a GAD-7 before a course's first dosing session, then a week
after each dosing session (weekly during a course, by the overlap rule), and answering
such a prompt through POST /api/v1/prompts/{id}/complete/ with the questionnaire.

The clock stands at Monday 2026-03-02 10:00 UTC; the patient lives in Berlin (UTC+1 until
the 29th, UTC+2 after), with the default quiet hours 21:00-08:00 and three prompts a day.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid

import pytest
from django.db import connection

from integration.models import Exercise, PlanStep, Prompt, PromptStatus, SafetyAlert
from integration.prompts import inbox
from integration.prompts.planning import prompts_sync_for_session
from journal.keys import sealer_for
from journal.measure_items import open_measure
from journal.models import Measure
from journal.safety import not_monitored_notice
from tests.integration.care_data import make_link
from tests.integration.conftest import NOW
from tests.integration.factories import make_session, plan, set_timeline
from tests.integration.prompts.helpers import MONDAY, at, dosing

pytestmark = [pytest.mark.usefixtures("frozen_now"), pytest.mark.django_db]

H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)
PHQ9_CALM = [1, 1, 0, 1, 0, 1, 0, 0, 0]  # total 4
PHQ9_ITEM9 = [2, 2, 1, 2, 1, 2, 1, 0, 1]  # total 12, item 9 above 0
HOOK = "integration.care.alerts.safety_alerts_create"


def measure_prompts(patient, slug: str | None = None) -> list[Prompt]:
    """The patient's live (not cancelled) measure prompts, by due time."""
    prompts = (
        Prompt.objects.filter(patient=patient, exercise__answer_kind="measure")
        .exclude(status=PromptStatus.CANCELLED)
        .select_related("exercise", "step")
        .order_by("due_at", "exercise__slug")
    )
    if slug is not None:
        prompts = prompts.filter(exercise__slug=slug)
    return list(prompts)


def described(prompts: list[Prompt]) -> list[tuple]:
    return [
        (p.exercise.slug, p.due_at, p.expires_at - p.due_at, p.step.is_course_start_only)
        for p in prompts
    ]


# The catalog ----------------------------------------------------------------------------


def test_the_catalog_has_the_phq9_and_gad7_as_measure_exercises() -> None:
    exercises = {e.slug: e for e in Exercise.objects.filter(answer_kind="measure")}

    assert {slug: e.instrument for slug, e in exercises.items()} == {
        "phq9": "phq9",
        "gad7": "gad7",
    }
    assert not any(e.is_safety_relevant or e.entry_kind for e in exercises.values())


@pytest.mark.parametrize("slug", ["kap-default", "esketamine-course", "iv-series"])
def test_every_plan_gains_the_measures_before_a_course_and_a_week_after(slug) -> None:
    steps = [
        (s.exercise.slug, s.offset, s.answer_window, s.is_course_start_only)
        for s in PlanStep.objects.filter(plan=plan(slug), exercise__answer_kind="measure")
        .select_related("exercise")
        .order_by("position")
    ]

    assert steps == [
        ("phq9", -72 * H, 48 * H, True),
        ("gad7", -72 * H, 48 * H, True),
        ("phq9", 7 * D, 6 * D, False),
        ("gad7", 7 * D, 6 * D, False),
    ]


def test_an_exercise_records_an_instrument_exactly_when_it_is_a_measure(db) -> None:
    from django.db import IntegrityError, transaction

    # A measure without its instrument, and an entry with one.
    for fields in (
        {"slug": "bad-measure", "answer_kind": "measure"},
        {"slug": "bad-entry", "answer_kind": "entry", "entry_kind": "note", "instrument": "phq9"},
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            Exercise.objects.create(title="t", instructions="i", estimated_minutes=1, **fields)


# Scheduling ------------------------------------------------------------------------------


def test_the_first_dosing_session_gets_both_measures_before_it_and_a_week_after(patient) -> None:
    dosing(patient, MONDAY)

    assert described(measure_prompts(patient)) == [
        # Three days before, open two days: closed a day before the session.
        ("gad7", at(6, 9), 48 * H, True),
        ("phq9", at(6, 9), 48 * H, True),
        # A week after, open six days. The weekly check-in and the intention follow-up are
        # due on the 16th too: the daily cap (three) moves the GAD-7 to 08:00 the next day.
        ("phq9", at(16, 9), 6 * D, False),
        ("gad7", at(17, 7), 6 * D, False),
    ]


def test_only_the_session_that_starts_a_course_gets_the_measures_before_it(patient) -> None:
    first = dosing(patient, MONDAY)
    second = dosing(patient, MONDAY + 3 * D)
    # 29 days after the second: more than four weeks without dosing, a new course.
    restart = dosing(patient, MONDAY + 32 * D)

    before_course = [p for p in measure_prompts(patient) if p.step.is_course_start_only]

    assert sorted({p.session_id for p in before_course}, key=str) == sorted(
        {first.pk, restart.pk}, key=str
    )
    assert second.pk not in {p.session_id for p in measure_prompts(patient)}


def test_a_session_four_weeks_after_the_last_continues_the_course(patient) -> None:
    dosing(patient, MONDAY)
    later = dosing(patient, MONDAY + 28 * D)

    assert not any(
        p.step.is_course_start_only and p.session_id == later.pk for p in measure_prompts(patient)
    )


def test_an_earlier_session_takes_over_the_start_of_the_course(patient) -> None:
    thursday = dosing(patient, MONDAY + 3 * D)
    before = [p for p in measure_prompts(patient) if p.step.is_course_start_only]
    assert {p.session_id for p in before} == {thursday.pk}

    monday = dosing(patient, MONDAY)

    assert {Prompt.objects.get(pk=p.pk).status for p in before} == {PromptStatus.CANCELLED}
    now_before = [p for p in measure_prompts(patient) if p.step.is_course_start_only]
    assert {(p.session_id, p.due_at) for p in now_before} == {(monday.pk, at(6, 9))}


def test_cancelling_the_first_session_moves_the_measures_to_the_next(patient) -> None:
    monday = dosing(patient, MONDAY)
    thursday = dosing(patient, MONDAY + 3 * D)

    cancelled = make_session_update(patient, monday, status="cancelled")
    prompts_sync_for_session(session=cancelled)

    before_course = [p for p in measure_prompts(patient) if p.step.is_course_start_only]
    assert {(p.session_id, p.due_at) for p in before_course} == {(thursday.pk, at(9, 9))}


def make_session_update(patient, session, **data):
    from journal.sessions import services

    return services.session_update(
        patient=patient, session_id=session.pk, data=data, expected_versions=None
    )


def test_a_twice_weekly_course_gets_one_phq9_and_gad7_a_week(patient) -> None:
    """Esketamine induction (twice weekly in weeks 1-4, then weekly) over eight weeks: the
    week-later measure of each Thursday session falls in the window of the Monday's before
    it and is left out; on a dosing Monday it waits out the six quiet hours after the
    dose; after the last session it stands alone."""
    set_timeline(patient, plan=plan("esketamine-course"))
    starts = [MONDAY + week * 7 * D + day * D for week in range(4) for day in (0, 3)]
    starts += [MONDAY + (4 + week) * 7 * D for week in range(4)]
    for start in starts:
        dosing(patient, start)

    weekly = [MONDAY + week * 7 * D + 6 * H for week in range(1, 8)] + [MONDAY + 56 * D]
    for slug in ("phq9", "gad7"):
        prompts = measure_prompts(patient, slug)
        assert [p.due_at for p in prompts] == [MONDAY - 72 * H, *weekly], slug
        # Never two open at once.
        for earlier, later in itertools.pairwise(prompts):
            assert earlier.expires_at <= later.due_at


def test_weekly_sessions_get_the_measure_after_each_one(patient) -> None:
    starts = [MONDAY + week * 7 * D for week in range(3)]
    for start in starts:
        dosing(patient, start)

    assert [p.due_at for p in measure_prompts(patient, "phq9")] == [
        MONDAY - 72 * H,
        # A week after the first: the second dosing day, after its six quiet hours.
        MONDAY + 7 * D + 6 * H,
        # A week after the second: the third dosing day, where the default plan's weekly
        # check-in, intention follow-up and two-week step already fill the day's three:
        # the next morning (08:00 Berlin), its six days with it.
        at(24, 7),
        # A week after the last: no session that day, but the weekly check-in, the
        # intention follow-up and the second's two-week step again: the next morning
        # (08:00 CEST). The measure steps come last in the plan, so under the cap they
        # are the ones that wait; nothing is dropped.
        at(31, 6),
    ]
    for earlier, later in itertools.pairwise(measure_prompts(patient, "phq9")):
        assert earlier.expires_at <= later.due_at


def test_a_measure_step_can_be_switched_off(patient, patient_client) -> None:
    dosing(patient, MONDAY)
    steps = [
        str(public_id)
        for public_id in PlanStep.objects.filter(
            plan=plan("kap-default"), exercise__slug="gad7"
        ).values_list("public_id", flat=True)
    ]

    response = patient_client.patch("/api/v1/me/plan/", {"disabled_steps": steps}, format="json")

    assert response.status_code == 200, response.json()
    assert {p.exercise.slug for p in measure_prompts(patient)} == {"phq9"}


def test_the_plans_api_shows_which_steps_are_for_a_course_start(patient_client) -> None:
    plans = {p["slug"]: p for p in patient_client.get("/api/v1/plans/").json()["results"]}

    steps = [s for s in plans["kap-default"]["steps"] if s["exercise"]["slug"] == "phq9"]

    assert [(s["offset_seconds"], s["is_course_start_only"]) for s in steps] == [
        (-72 * 3600, True),
        (7 * 86400, False),
    ]


# Answering ---------------------------------------------------------------------------------


@pytest.fixture
def past(patient):
    """Yesterday's dosing session, without the prompts its plan would give it."""
    return make_session(patient, NOW - D, keep_prompts=False)


@pytest.fixture
def alerting(settings, patient, therapist):
    """The safety hook wired, and a therapist linked who takes safety alerts."""
    settings.JOURNAL_SAFETY_HOOKS = [HOOK]
    return make_link(patient, therapist, safety_alerts_enabled=True)


def measure_prompt(patient, session, slug: str = "phq9", **fields) -> Prompt:
    step = PlanStep.objects.get(
        plan=plan("kap-default"), exercise__slug=slug, is_course_start_only=False
    )
    values = {
        "patient": patient,
        "exercise": step.exercise,
        "status": PromptStatus.SENT,
        "nominal_at": NOW - H,
        "due_at": NOW - H,
        "expires_at": NOW + 6 * D,
        **fields,
    }
    return Prompt.objects.create(session=session, step=step, **values)


def complete(client, prompt, body: dict):
    return client.post(f"/api/v1/prompts/{prompt.id}/complete/", body, format="json")


def test_answering_a_measure_prompt_records_the_measure_and_completes_it(
    patient, patient_client, past
) -> None:
    prompt = measure_prompt(patient, past)

    response = complete(patient_client, prompt, {"answers": PHQ9_CALM, "difficulty": 0})

    assert response.status_code == 200, response.json()
    body = response.json()
    measure = Measure.objects.get(patient=patient)
    assert (body["status"], body["completed_at"]) == ("completed", "2026-03-02T10:00:00Z")
    assert (body["measure"], body["entry"]) == (str(measure.id), None)
    result = body["measure_result"]
    assert (result["instrument"], result["answers"], result["total"], result["band"]) == (
        "phq9",
        PHQ9_CALM,
        4,
        "minimal",
    )
    assert result["session"] == str(past.id)
    assert body["safety"] is None
    assert body["notice"] == not_monitored_notice(country=patient.country)
    opened = open_measure(measure, sealer=sealer_for(patient))
    assert (opened.session_id, opened.difficulty) == (past.pk, 0)
    assert Prompt.objects.get(pk=prompt.pk).measure_id == measure.id


def test_a_gad7_prompt_scores_seven_answers(patient, patient_client, past) -> None:
    prompt = measure_prompt(patient, past, "gad7")

    response = complete(patient_client, prompt, {"answers": [3, 3, 2, 2, 1, 1, 0]})

    assert response.status_code == 200, response.json()
    assert (response.json()["measure_result"]["total"], response.json()["safety"]) == (12, None)


def test_item_9_above_0_answers_with_the_safety_block(patient, patient_client, past) -> None:
    patient.country = "DE"
    patient.save(update_fields=["country"])
    prompt = measure_prompt(patient, past)

    body = complete(patient_client, prompt, {"answers": PHQ9_ITEM9}).json()

    assert body["status"] == "completed"
    assert body["safety"]["reason"] == "phq9_item9"
    assert {r["contact"] for r in body["safety"]["resources"]} == {"112", "0800 111 0 111"}
    assert "112" in body["notice"]
    assert body["notice"] == not_monitored_notice(country=patient.country)


def test_item_9_alerts_a_consenting_therapist_in_the_same_transaction(
    patient, therapist, patient_client, past, alerting
) -> None:
    prompt = measure_prompt(patient, past)

    body = complete(patient_client, prompt, {"answers": PHQ9_ITEM9}).json()

    alert = SafetyAlert.objects.get()
    assert (str(alert.measure_id), alert.therapist_id, alert.status) == (
        body["measure"],
        therapist.pk,
        "pending",
    )


def test_repeating_a_complete_with_the_same_measure_id_answers_the_same(
    patient, therapist, patient_client, past, alerting
) -> None:
    prompt = measure_prompt(patient, past)
    measure_id = str(uuid.uuid4())
    sent = {"measure_id": measure_id, "answers": PHQ9_ITEM9}

    first = complete(patient_client, prompt, sent)
    repeat = complete(patient_client, prompt, sent)
    other = complete(patient_client, prompt, {"answers": PHQ9_CALM})

    assert first.status_code == repeat.status_code == 200
    assert repeat.json() == first.json()
    assert first.json()["measure"] == measure_id
    # Another answer to the completed prompt is kept, and says it came late.
    assert (other.status_code, other.json()["late"], other.json()["status"]) == (
        200,
        True,
        "completed",
    )
    assert other.json()["measure"] == measure_id
    assert Measure.objects.filter(patient=patient).count() == 2
    assert SafetyAlert.objects.count() == 1  # the repeat did not alert again


def test_bad_answers_are_refused_item_by_item_and_leave_the_prompt_open(
    patient, patient_client, past
) -> None:
    prompt = measure_prompt(patient, past)

    short = complete(patient_client, prompt, {"answers": [1, 1, 1]})
    bad_value = complete(patient_client, prompt, {"answers": [5, *PHQ9_ITEM9[1:]]})
    difficulty = complete(
        patient_client, measure_prompt(patient, past, "gad7"), {"answers": [0] * 7, "difficulty": 1}
    )

    assert short.status_code == 400
    assert short.json()["errors"]["answers.3"] == [
        "Item 4 (Feeling tired or having little energy) is missing: answer 0 to 3."
    ]
    assert "safety" not in short.json()
    # Refused, yet it endorses item 9: the crisis resources come back anyway.
    assert bad_value.status_code == 400
    assert bad_value.json()["safety"]["reason"] == "phq9_item9"
    assert difficulty.status_code == 400
    assert "difficulty" in difficulty.json()["errors"]
    assert Prompt.objects.get(pk=prompt.pk).status == PromptStatus.SENT
    assert not Measure.objects.filter(patient=patient).exists()


def test_an_item_9_string_int_cannot_read_is_refused_with_the_block_not_a_500(
    patient, patient_client, past
) -> None:
    prompt = measure_prompt(patient, past)

    response = complete(patient_client, prompt, {"answers": [1] * 8 + ["9" * 5000]})

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"answers.8"}
    assert response.json()["safety"]["reason"] == "phq9_item9"
    assert Prompt.objects.get(pk=prompt.pk).status == PromptStatus.SENT


def test_an_entry_and_answers_together_are_refused(patient, patient_client, past) -> None:
    prompt = measure_prompt(patient, past)

    response = complete(patient_client, prompt, {"answers": PHQ9_CALM, "body": "and text"})
    nothing = complete(patient_client, prompt, {})

    assert (response.status_code, nothing.status_code) == (400, 400)
    assert "answers" in response.json()["errors"]
    assert "body" in nothing.json()["errors"]
    assert not Measure.objects.exists()


def test_each_kind_of_prompt_takes_its_own_kind_of_answer(patient, patient_client, past) -> None:
    from tests.integration.factories import make_prompt

    entry_prompt = make_prompt(patient, past, exercise_slug="body-scan", due_at=NOW - H)
    prompt = measure_prompt(patient, past)

    answers_to_entry = complete(patient_client, entry_prompt, {"answers": PHQ9_CALM})
    body_to_measure = complete(patient_client, prompt, {"body": "Fine, thanks."})

    assert (answers_to_entry.status_code, answers_to_entry.json()["code"]) == (
        409,
        "invalid_transition",
    )
    assert (body_to_measure.status_code, body_to_measure.json()["code"]) == (
        409,
        "invalid_transition",
    )
    assert "answers" in body_to_measure.json()["detail"]
    assert not Measure.objects.exists()
    assert {p.status for p in Prompt.objects.filter(pk__in=[entry_prompt.pk, prompt.pk])} == {
        PromptStatus.SENT
    }


def test_a_prompt_not_yet_due_cannot_be_answered(patient, patient_client, past) -> None:
    prompt = measure_prompt(
        patient, past, status=PromptStatus.SCHEDULED, due_at=NOW + H, nominal_at=NOW + H
    )

    response = complete(patient_client, prompt, {"answers": PHQ9_CALM})

    assert (response.status_code, response.json()["code"]) == (409, "invalid_transition")
    assert not Measure.objects.exists()


def test_bad_answers_are_a_400_whatever_the_prompts_state(patient, patient_client, past) -> None:
    """A bad submission is refused as such (400 naming the item) before the prompt's
    state is looked at, so a client learns what to fix, not merely that it is early."""
    prompt = measure_prompt(
        patient, past, status=PromptStatus.SCHEDULED, due_at=NOW + H, nominal_at=NOW + H
    )

    response = complete(patient_client, prompt, {"answers": [4, *PHQ9_CALM[1:]]})

    assert (response.status_code, response.json()["code"]) == (400, "validation")
    assert "answers.0" in response.json()["errors"]
    assert not Measure.objects.exists()
    assert Prompt.objects.get(pk=prompt.pk).status == PromptStatus.SCHEDULED


def test_another_patients_measure_prompt_is_not_found(
    patient, other_patient, other_client, past
) -> None:
    prompt = measure_prompt(patient, past)

    response = complete(other_client, prompt, {"answers": PHQ9_CALM})

    assert response.status_code == 404
    assert Prompt.objects.get(pk=prompt.pk).status == PromptStatus.SENT
    assert not Measure.objects.exists()


def test_a_refused_answer_endorsing_item_9_carries_the_block_whatever_the_status(
    patient, other_client, patient_client, past
) -> None:
    """The error answers the schema types as ProblemWithSafety (tests/backend/test_schema.py)
    carry it: a prompt not yours (404), a prompt not yet due (409)."""
    prompt = measure_prompt(patient, past)

    not_yours = complete(other_client, prompt, {"answers": PHQ9_ITEM9})
    Prompt.objects.filter(pk=prompt.pk).update(
        status=PromptStatus.SCHEDULED, due_at=NOW + H, nominal_at=NOW + H
    )
    too_early = complete(patient_client, prompt, {"answers": PHQ9_ITEM9})

    assert (not_yours.status_code, not_yours.json()["safety"]["reason"]) == (404, "phq9_item9")
    assert (too_early.status_code, too_early.json()["safety"]["reason"]) == (409, "phq9_item9")
    assert not Measure.objects.exists()


def test_a_measure_answer_that_arrives_after_the_prompt_expired_is_kept_and_alerts(
    patient, therapist, patient_client, past, alerting, monkeypatch
) -> None:
    prompt = measure_prompt(patient, past)
    original = inbox._answerable

    def expired_meanwhile(now):
        Prompt.objects.filter(pk=prompt.pk).update(status=PromptStatus.EXPIRED)
        return original(now)

    monkeypatch.setattr(inbox, "_answerable", expired_meanwhile)

    response = complete(patient_client, prompt, {"answers": PHQ9_ITEM9})

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["late"], body["status"]) == (True, "expired")
    assert body["safety"]["reason"] == "phq9_item9"
    measure = Measure.objects.get()
    assert body["measure"] == body["answer"] == str(measure.pk)
    assert Prompt.objects.get(pk=prompt.pk).answered_late_at is not None
    # Item 9 above 0 alerts the linked therapist however late the answer arrives.
    assert SafetyAlert.objects.count() == 1


def test_a_measure_of_a_deleted_session_is_kept_without_the_link(
    patient, patient_client, past
) -> None:
    from journal.sessions import services

    prompt = measure_prompt(patient, past)
    services.session_delete(patient=patient, session_id=past.pk, expected_versions=None)

    response = complete(patient_client, prompt, {"answers": PHQ9_CALM})

    assert response.status_code == 200, response.json()
    assert response.json()["measure_result"]["session"] is None


def test_an_entry_prompt_answer_carries_the_notice_too(patient, patient_client, past) -> None:
    from tests.integration.factories import make_prompt

    prompt = make_prompt(patient, past, exercise_slug="body-scan", due_at=NOW - H)

    body = complete(patient_client, prompt, {"body": "Warm hands."}).json()

    assert body["notice"] == not_monitored_notice(country=patient.country)
    assert (body["measure"], body["measure_result"], body["safety"]) == (None, None, None)


def test_the_measure_is_stored_in_the_clear_and_the_prompt_points_at_it(
    patient, patient_client, past
) -> None:
    prompt = measure_prompt(patient, past)

    body = complete(patient_client, prompt, {"answers": PHQ9_CALM}).json()

    with connection.cursor() as cursor:
        cursor.execute("SELECT measure_id FROM integration_prompt WHERE id = %s", [prompt.pk])
        (measure_id,) = cursor.fetchone()
    assert str(measure_id) == body["measure"]
    read = patient_client.get(f"/api/v1/prompts/{prompt.id}/").json()
    assert read["measure"] == body["measure"]
