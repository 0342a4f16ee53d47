"""What a patient does with a prompt from the inbox: open, skip, snooze, complete it with an
entry or a measure. Each is a compare-and-swap on the prompt's status.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework.exceptions import NotFound

from backend.accounts.models import User
from backend.errors import ProblemError, invalid_fields
from integration.models import (
    ANSWERABLE_STATUSES,
    AnswerKind,
    Prompt,
    PromptStatus,
    answerable,
)
from journal import instruments
from journal.entries import services
from journal.measures import services as measures_services
from journal.models import (
    EntryKind,
    Measure,
    SessionKind,
    SessionStatus,
)


def _invalid_transition(action: str) -> ProblemError:
    return ProblemError(
        409,
        "invalid_transition",
        f"This prompt cannot be {action} in its current state. Read it again for its status.",
    )


# Prompt transitions from the inbox ------------------------------------------------------


def _prompt_for_patient(patient: User, prompt_id: uuid.UUID) -> Prompt:
    prompt = (
        Prompt.objects.select_related("exercise", "session")
        .filter(pk=prompt_id, patient=patient)
        .first()
    )
    if prompt is None:
        # The same answer for a prompt that does not exist and one that is not theirs.
        raise NotFound()
    return prompt


def _answerable(now: dt.datetime) -> Q:
    """Prompts the patient can see and act on: sent or on its way, opened, or scheduled
    and due (the inbox shows a due prompt before its notification arrives)."""
    return answerable(now)


def _is_answerable(prompt: Prompt, now: dt.datetime) -> bool:
    """The same condition as `_answerable`, for a prompt in hand."""
    return prompt.status in ANSWERABLE_STATUSES or (
        prompt.status == PromptStatus.SCHEDULED and prompt.due_at <= now
    )


def _transition(
    patient: User, prompt_id: uuid.UUID, action: str, now: dt.datetime, **changes: Any
) -> Prompt:
    """Compare-and-swap an answerable prompt of the patient's into a new state."""
    prompt = _prompt_for_patient(patient, prompt_id)
    updated = (
        Prompt.objects.filter(pk=prompt.pk, patient=patient)
        .filter(_answerable(now))
        .update(**changes)
    )
    if updated != 1:
        raise _invalid_transition(action)
    prompt.refresh_from_db()
    return prompt


def prompt_open(*, patient: User, prompt_id: uuid.UUID, now: dt.datetime | None = None) -> Prompt:
    """The patient opened the prompt (sent, or scheduled and due -> opened). Opening an
    opened prompt again changes nothing."""
    now = now or timezone.now()
    prompt = _prompt_for_patient(patient, prompt_id)
    if prompt.status == PromptStatus.OPENED:
        return prompt
    return _transition(patient, prompt_id, "opened", now, status=PromptStatus.OPENED, opened_at=now)


def prompt_skip(*, patient: User, prompt_id: uuid.UUID, now: dt.datetime | None = None) -> Prompt:
    """The patient let this one go (due, sent or opened -> skipped)."""
    now = now or timezone.now()
    return _transition(
        patient, prompt_id, "skipped", now, status=PromptStatus.SKIPPED, skipped_at=now
    )


def prompt_snooze(
    *,
    patient: User,
    prompt_id: uuid.UUID,
    until: dt.datetime,
    now: dt.datetime | None = None,
) -> Prompt:
    """Ask again later: back to `scheduled`, due at `until`, so the dispatcher sends it
    again. `until` must be in the future and before the prompt expires."""
    now = now or timezone.now()
    prompt = _prompt_for_patient(patient, prompt_id)
    if not _is_answerable(prompt, now):
        raise _invalid_transition("snoozed")
    if not now < until < prompt.expires_at:
        raise invalid_fields(
            {"until": ["Give a time in the future and before the prompt expires."]}
        )
    return _transition(
        patient,
        prompt_id,
        "snoozed",
        now,
        status=PromptStatus.SCHEDULED,
        due_at=until,
        snoozed_until=until,
        claim_id=None,
        lease_expires_at=None,
    )


def _entry_session_link(prompt: Prompt, kind: str, now: dt.datetime) -> uuid.UUID | None:
    """The session an answer links to, when journal allows the link (its rules in
    journal.entries.services._validate_session_link): an intention only to an upcoming dosing
    session, a reflection only to one that has taken place, other kinds to any live one."""
    session = prompt.session
    if session.deleted_at is not None:
        return None
    is_dosing = session.kind == SessionKind.DOSING
    if kind == EntryKind.INTENTION:
        is_upcoming = session.status == SessionStatus.SCHEDULED and session.scheduled_start > now
        return session.pk if is_dosing and is_upcoming else None
    if kind == EntryKind.REFLECTION:
        has_taken_place = session.status == SessionStatus.COMPLETED or (
            session.status == SessionStatus.SCHEDULED and session.scheduled_start <= now
        )
        return session.pk if is_dosing and has_taken_place else None
    return session.pk


def prompt_complete(
    *,
    patient: User,
    prompt_id: uuid.UUID,
    body: str,
    title: str = "",
    tags: Sequence[str] = (),
    mood: int | None = None,
    entry_id: uuid.UUID | None = None,
) -> Prompt:
    """Answer the prompt: write the journal entry (sealed, through journal's entry_create)
    and mark the prompt completed with it, in one transaction.

    With `entry_id` (the client's own UUID for the entry) a repeat after a lost response
    answers the completed prompt instead of 409.
    """
    now = timezone.now()
    prompt = _prompt_for_patient(patient, prompt_id)
    if (
        entry_id is not None
        and prompt.status == PromptStatus.COMPLETED
        and prompt.entry_id == entry_id
    ):
        return prompt
    exercise = prompt.exercise
    if exercise.answer_kind == AnswerKind.MEASURE or not exercise.entry_kind:
        raise ProblemError(
            409,
            "invalid_transition",
            "This prompt is answered with a questionnaire: send `answers`, not a journal entry.",
        )
    if not _is_answerable(prompt, now):
        raise _invalid_transition("completed")
    with transaction.atomic():
        created = services.entry_create(
            patient=patient,
            kind=exercise.entry_kind,
            id=entry_id,
            session_id=_entry_session_link(prompt, exercise.entry_kind, now),
            title=title,
            body=body,
            tags=tags,
            mood=mood,
        )
        updated = (
            Prompt.objects.filter(pk=prompt.pk, patient=patient)
            .filter(_answerable(now))
            .update(status=PromptStatus.COMPLETED, completed_at=now, entry=created.record)
        )
        if updated != 1:
            raise _invalid_transition("completed")  # rolls the entry back with it
    prompt.refresh_from_db()
    return prompt


@dataclass(frozen=True)
class MeasureAnswer:
    """A measure prompt answered: the prompt (completed) and the measure it recorded."""

    prompt: Prompt
    measure: Measure


def prompt_complete_measure(
    *,
    patient: User,
    prompt_id: uuid.UUID,
    answers: Sequence[Any],
    difficulty: Any = None,
    measure_id: uuid.UUID | None = None,
) -> MeasureAnswer:
    """Answer a measure prompt: score and store the questionnaire (journal's
    measure_create, linked to the prompt's session while it exists) and mark the prompt
    completed with it, in one transaction. A PHQ-9 whose item 9 is above 0 runs the safety
    hooks inside that transaction (`settings.JOURNAL_SAFETY_HOOKS`): a prompt that cannot
    be completed rolls the measure and what the hooks wrote back together.

    With `measure_id` (the client's own UUID for the measure) a repeat after a lost
    response answers the completed prompt and its measure instead of 409.
    """
    now = timezone.now()
    prompt = _prompt_for_patient(patient, prompt_id)
    if (
        measure_id is not None
        and prompt.status == PromptStatus.COMPLETED
        and prompt.measure_id == measure_id
    ):
        repeated = Measure.objects.filter(pk=measure_id, patient=patient).first()
        if repeated is not None:
            return MeasureAnswer(prompt=prompt, measure=repeated)
    exercise = prompt.exercise
    if exercise.answer_kind != AnswerKind.MEASURE or not exercise.instrument:
        raise ProblemError(
            409,
            "invalid_transition",
            "This prompt is answered with a journal entry: send `body`, not `answers`.",
        )
    # A bad submission is a 400 whatever the prompt's state: checked before the 409s.
    errors = instruments.validate(exercise.instrument, answers, difficulty)
    if errors:
        raise invalid_fields(errors)
    if not _is_answerable(prompt, now):
        raise _invalid_transition("completed")
    session = prompt.session
    with transaction.atomic():
        created = measures_services.measure_create(
            patient=patient,
            instrument=exercise.instrument,
            answers=answers,
            id=measure_id,
            difficulty=difficulty,
            session_id=session.pk if session.deleted_at is None else None,
        )
        updated = (
            Prompt.objects.filter(pk=prompt.pk, patient=patient)
            .filter(_answerable(now))
            .update(status=PromptStatus.COMPLETED, completed_at=now, measure=created.record)
        )
        if updated != 1:
            raise _invalid_transition("completed")  # rolls the measure back with it
    prompt.refresh_from_db()
    return MeasureAnswer(prompt=prompt, measure=created.record)
