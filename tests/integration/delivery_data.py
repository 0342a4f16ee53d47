"""Rows for delivery tests: due prompts of a few patients, each patient with devices whose
tokens tell the counting provider how to answer (see counting_provider.py)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.utils import timezone

from backend.accounts.models import User
from integration.models import Device, Exercise, IntegrationPlan, PlanStep, Prompt
from journal.models import SyncState, TreatmentSession
from tests.accounts.factories import PatientFactory


def make_step() -> PlanStep:
    tag = uuid.uuid4().hex[:8]
    exercise = Exercise.objects.create(
        slug=f"check-in-{tag}",
        title="How are you feeling?",
        instructions="A short check-in.",
        estimated_minutes=2,
        answer_kind="checkin",
        entry_kind="checkin",
    )
    plan = IntegrationPlan.objects.create(slug=f"plan-{tag}", name="Plan", description="Test")
    return PlanStep.objects.create(
        plan=plan, position=1, exercise=exercise, offset=timedelta(hours=2)
    )


def make_device(user: User, token: str, platform: str = "android") -> Device:
    return Device.objects.create(
        user=user,
        platform=platform,
        token=token,
        token_hash=hashlib.sha256(f"{user.pk}:{token}:{uuid.uuid4()}".encode()).hexdigest(),
    )


def make_prompts(
    count: int,
    *,
    patients: int = 10,
    tokens: tuple[str, ...] = ("ok",),
    due_at: datetime | None = None,
    expires_in: timedelta = timedelta(days=1),
) -> list[Prompt]:
    """`count` prompts spread over `patients` patients, each patient with one device per
    token; due a minute ago unless `due_at` says otherwise."""
    now = timezone.now()
    due = now - timedelta(minutes=1) if due_at is None else due_at
    step = make_step()
    users = [PatientFactory.create(password=None) for _ in range(patients)]
    # Their change counters, as a patient with sessions has (sent prompts take numbers).
    SyncState.objects.bulk_create(SyncState(patient=user) for user in users)
    for user in users:
        for token in tokens:
            make_device(user, token)
    sessions = TreatmentSession.objects.bulk_create(
        TreatmentSession(
            patient=users[index % patients],
            kind="dosing",
            modality="esketamine_nasal",
            setting="clinic",
            scheduled_start=due,
        )
        for index in range(count)
    )
    return Prompt.objects.bulk_create(
        Prompt(
            patient=session.patient,
            session=session,
            step=step,
            exercise=step.exercise,
            nominal_at=due,
            due_at=due,
            expires_at=due + expires_in,
        )
        for session in sessions
    )


def insert_prompts(
    *,
    count: int,
    patients: Sequence[User],
    due_from: datetime,
    spacing: timedelta,
    per_session: int = 1000,
) -> None:
    """Insert `count` scheduled prompts in one SQL statement, the n-th due at
    `due_from + n * spacing`, sessions spread round-robin over `patients`: for tables of a
    million rows, where the ORM would take minutes. Prompts are unique per (session, step),
    so they come from sessions x steps."""
    steps_needed = min(count, per_session)
    sessions_needed = -(-count // steps_needed)
    first = make_step()
    PlanStep.objects.bulk_create(
        PlanStep(plan=first.plan, position=position, exercise=first.exercise, offset=first.offset)
        for position in range(2, steps_needed + 1)
    )
    parameters: dict[str, Any] = {
        "patients": [patient.pk for patient in patients],
        "patient_count": len(patients),
        "sessions": sessions_needed,
        "plan": first.plan_id,
        "count": count,
        "exercise": first.exercise_id,
        "due_from": due_from,
        "spacing": spacing,
    }
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH new_sessions AS (
                INSERT INTO journal_treatmentsession (
                    id, patient_id, version, change, key_version, created_at, updated_at,
                    kind, modality, setting, scheduled_start, status, note_sealed
                )
                SELECT gen_random_uuid(), (%(patients)s::uuid[])[1 + g %% %(patient_count)s],
                       1, 0, 0, now(), now(),
                       'dosing', 'esketamine_nasal', 'clinic', now(), 'scheduled', ''
                FROM generate_series(1, %(sessions)s) AS g
                RETURNING id, patient_id
            ),
            pairs AS (
                SELECT new_sessions.id AS session_id, new_sessions.patient_id,
                       step.id AS step_id, row_number() OVER () AS n
                FROM new_sessions CROSS JOIN integration_planstep AS step
                WHERE step.plan_id = %(plan)s
                LIMIT %(count)s
            )
            INSERT INTO integration_prompt (
                id, patient_id, session_id, step_id, exercise_id, status, nominal_at, due_at,
                expires_at, attempts, last_error, created_at
            )
            SELECT gen_random_uuid(), patient_id, session_id, step_id, %(exercise)s,
                   'scheduled', %(due_from)s + n * %(spacing)s, %(due_from)s + n * %(spacing)s,
                   %(due_from)s + n * %(spacing)s + interval '1 day', 0, '', now()
            FROM pairs
            """,
            parameters,
        )
