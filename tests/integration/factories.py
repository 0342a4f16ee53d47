"""Test data for the care layer: patients, dosing sessions (through journal's services, so
they are sealed as the API seals them), plans and prompts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from backend.accounts.models import User
from integration.courses import services as course_services
from integration.models import (
    Course,
    Exercise,
    IntegrationPlan,
    PatientTimeline,
    PlanStep,
    Prompt,
    PromptStatus,
)
from journal.models import TreatmentSession
from journal.sessions import services
from tests.accounts.factories import PatientFactory, TherapistFactory


def make_patient(**fields: Any) -> User:
    # No usable password: the tests sign in with force_authenticate (no Argon2 hashing).
    fields.setdefault("time_zone", "Europe/Berlin")
    return PatientFactory.create(password=None, **fields)


def make_therapist(**fields: Any) -> User:
    return TherapistFactory.create(password=None, **fields)


def make_session(
    patient: User,
    start: dt.datetime,
    *,
    kind: str = "dosing",
    keep_prompts: bool = True,
    **fields: Any,
) -> TreatmentSession:
    """A session through journal's session_create. With the session hook wired, that
    already makes its prompts; `keep_prompts=False` removes them, for tests that place
    their own."""
    values: dict[str, Any] = {"kind": kind, "scheduled_start": start}
    if kind == "dosing":
        values.update(modality="esketamine_nasal", setting="clinic")
    values.update(fields)
    session = services.session_create(patient=patient, **values).record
    if not keep_prompts:
        Prompt.objects.filter(session=session).delete()
    return session


def yesterdays_dosing(patient: User, **fields: Any) -> TreatmentSession:
    """A dosing session that started a day before the clock's now."""
    return make_session(patient, timezone.now() - dt.timedelta(days=1), **fields)


def iv_course(patient: User, start: dt.date = dt.date(2026, 3, 3)) -> Course:
    """Six infusions on Tuesdays and Fridays at 09:00 in the patient's time zone."""
    return course_services.course_create(
        patient=patient,
        template="iv-series",
        start_date=start,
        local_time=dt.time(9),
        weekdays=["TU", "FR"],
    ).course


def esketamine_course(patient: User, **fields: Any) -> Course:
    """Esketamine on Mondays and Thursdays at 09:00 from Thursday 5 March 2026."""
    return course_services.course_create(
        patient=patient,
        template="esketamine-induction-maintenance",
        start_date=dt.date(2026, 3, 5),
        local_time=dt.time(9),
        weekdays=["MO", "TH"],
        **fields,
    ).course


def plan(slug: str) -> IntegrationPlan:
    return IntegrationPlan.objects.get(slug=slug)


def step_of(plan_slug: str, exercise_slug: str) -> PlanStep:
    return PlanStep.objects.select_related("exercise").get(
        plan__slug=plan_slug, exercise__slug=exercise_slug
    )


def make_plan(slug: str, steps: list[tuple[str, dt.timedelta, dt.timedelta]]) -> IntegrationPlan:
    """A plan of (exercise slug, offset, answer window) steps."""
    made = IntegrationPlan.objects.create(slug=slug, name=slug, description=slug)
    for position, (exercise_slug, offset, window) in enumerate(steps, start=1):
        PlanStep.objects.create(
            plan=made,
            position=position,
            exercise=Exercise.objects.get(slug=exercise_slug),
            offset=offset,
            answer_window=window,
        )
    return made


def set_timeline(patient: User, **fields: Any) -> PatientTimeline:
    """The patient's timeline row with these fields (no re-sync: call it yourself)."""
    fields.setdefault("plan", plan("kap-default"))
    timeline, _ = PatientTimeline.objects.update_or_create(patient=patient, defaults=fields)
    return timeline


def make_prompt(
    patient: User,
    session: TreatmentSession,
    *,
    exercise_slug: str = "body-scan",
    plan_slug: str = "kap-default",
    status: str = PromptStatus.SENT,
    due_at: dt.datetime,
    window: dt.timedelta = dt.timedelta(hours=24),
    **fields: Any,
) -> Prompt:
    """A prompt of the session's step for the exercise, in a given state."""
    step = step_of(plan_slug, exercise_slug)
    values: dict[str, Any] = {
        "patient": patient,
        "exercise": step.exercise,
        "status": status,
        "nominal_at": due_at,
        "due_at": due_at,
        "expires_at": due_at + window,
    }
    values.update(fields)
    prompt, _ = Prompt.objects.update_or_create(session=session, step=step, defaults=values)
    return prompt


def prompts_of(session: TreatmentSession) -> dict[str, Prompt]:
    """The session's prompts by exercise slug."""
    return {
        prompt.exercise.slug: prompt
        for prompt in Prompt.objects.filter(session=session).select_related("exercise")
    }
