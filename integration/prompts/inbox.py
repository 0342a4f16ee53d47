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
from backend.problem_codes import ProblemCode
from integration.changes import prompt_changes_take
from integration.models import (
    ANSWERABLE_STATUSES,
    AnswerKind,
    Prompt,
    PromptStatus,
    answerable,
)
from journal import instruments
from journal.entries import services
from journal.keys import sealer_for
from journal.measure_items import open_measure
from journal.measures import services as measures_services
from journal.models import (
    Entry,
    Measure,
)


class PromptConflictError(ProblemError):
    """A 409 about a prompt. The prompt views answer it with the prompt as it is now
    (`current`), as a 412 carries the record it refused."""

    def __init__(self, prompt: Prompt, detail: str) -> None:
        super().__init__(409, ProblemCode.INVALID_TRANSITION, detail)
        self.prompt = prompt


def _conflict(prompt: Prompt, detail: str) -> PromptConflictError:
    return PromptConflictError(prompt, detail)


def _invalid_transition(action: str, prompt: Prompt) -> PromptConflictError:
    return _conflict(
        prompt, f"This prompt cannot be {action} in its current state: `current` holds it."
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
    """Compare-and-swap an answerable prompt of the patient's into a new state, with the
    patient's next change number (taken first: counter before rows)."""
    prompt = _prompt_for_patient(patient, prompt_id)
    with transaction.atomic():
        numbers = prompt_changes_take([(prompt.pk, patient.pk)])
        updated = (
            Prompt.objects.filter(pk=prompt.pk, patient=patient)
            .filter(_answerable(now))
            .update(change=numbers[prompt.pk], **changes)
        )
    prompt.refresh_from_db()
    if updated != 1:
        raise _invalid_transition(action, prompt)
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
    again. `until` must be in the future and before the prompt expires. The push then is a
    new delivery: its count of claims starts again (PROMPT_MAX_ATTEMPTS counts the claims
    of one delivery, so earlier ones must not use up its retries or stop its push)."""
    now = now or timezone.now()
    prompt = _prompt_for_patient(patient, prompt_id)
    if not _is_answerable(prompt, now):
        raise _invalid_transition("snoozed", prompt)
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
        attempts=0,
    )


def _entry_session_link(prompt: Prompt, kind: str, written: dt.datetime) -> uuid.UUID | None:
    """The session an answer links to, when journal allows the link at the time of writing."""
    session = prompt.session
    if session.deleted_at is not None:
        return None
    if not services.session_link_allowed(session=session, kind=kind, written=written):
        return None
    return session.pk


@dataclass(frozen=True)
class EntryAnswer:
    """An entry prompt answered: the prompt as it is now and the entry the answer wrote.
    `is_late`: the prompt had closed, so it kept its state and the entry was kept."""

    prompt: Prompt
    entry: Entry
    is_late: bool
    is_repeat: bool = False  # the entry's id was already this answer's (a retry)


@dataclass(frozen=True)
class MeasureAnswer:
    """A measure prompt answered: the prompt as it is now and the measure it recorded.
    `is_late`: the prompt had closed, so it kept its state and the measure was kept."""

    prompt: Prompt
    measure: Measure
    is_late: bool = False
    is_repeat: bool = False  # the measure's id was already this answer's (a retry)


def _not_yet_due(prompt: Prompt, written: dt.datetime, now: dt.datetime) -> bool:
    """A prompt the inbox had not shown when the answer was written, nor shows now."""
    return prompt.status == PromptStatus.SCHEDULED and prompt.due_at > max(written, now)


def _answer(prompt: Prompt, now: dt.datetime, written: dt.datetime, **answer: Any) -> bool:
    """Complete the prompt with its answer while it is answerable (compare-and-swap), and
    say whether it was: answerable now, or when the answer was written by the device's
    clock (a phone a few minutes ahead shows a prompt due by its clock, as
    `_not_yet_due` allows). An answer that arrives after the prompt closed (it expired, was
    cancelled or skipped, or was answered on another device while the phone was offline)
    is kept all the same: the caller has written it in this transaction, and it is linked
    to the prompt as a late answer when the prompt has none; the prompt keeps its state."""
    # The caller's journal write holds the patient's counter already.
    answer["change"] = prompt_changes_take([(prompt.pk, prompt.patient_id)])[prompt.pk]
    completed = (
        Prompt.objects.filter(pk=prompt.pk, patient_id=prompt.patient_id)
        .filter(_answerable(max(written, now)))
        .update(status=PromptStatus.COMPLETED, completed_at=now, **answer)
    )
    if completed == 1:
        return True
    Prompt.objects.filter(
        pk=prompt.pk, patient_id=prompt.patient_id, entry__isnull=True, measure__isnull=True
    ).update(answered_late_at=now, **answer)
    return False


def prompt_complete(
    *,
    patient: User,
    prompt_id: uuid.UUID,
    body: str,
    title: str = "",
    tags: Sequence[str] = (),
    mood: int | None = None,
    entry_id: uuid.UUID | None = None,
    written_at: dt.datetime | None = None,
) -> EntryAnswer:
    """Answer the prompt: write the journal entry (sealed, through journal's entry_create)
    and mark the prompt completed with it, in one transaction. An answer written while the
    prompt was open and sent after it closed keeps its text (`EntryAnswer.is_late`).

    With `entry_id` (the client's own UUID for the entry) a repeat after a lost response
    answers as the first did.
    """
    now = timezone.now()
    written = written_at or now
    prompt = _prompt_for_patient(patient, prompt_id)
    exercise = prompt.exercise
    if exercise.answer_kind == AnswerKind.MEASURE or not exercise.entry_kind:
        raise _conflict(
            prompt,
            "This prompt is answered with a questionnaire: send `answers`, not a journal entry.",
        )
    if _not_yet_due(prompt, written, now):
        raise _invalid_transition("completed", prompt)
    with transaction.atomic():
        created = services.entry_create(
            patient=patient,
            kind=exercise.entry_kind,
            id=entry_id,
            session_id=_entry_session_link(prompt, exercise.entry_kind, written),
            title=title,
            body=body,
            tags=tags,
            mood=mood,
            written_at=written_at,
        )
        is_completed = _answer(prompt, now, written, entry=created.record)
    prompt.refresh_from_db()
    is_late = not is_completed and not (
        prompt.status == PromptStatus.COMPLETED and prompt.entry_id == created.record.pk
    )
    return EntryAnswer(
        prompt=prompt, entry=created.record, is_late=is_late, is_repeat=not created.is_new
    )


def prompt_complete_measure(
    *,
    patient: User,
    prompt_id: uuid.UUID,
    answers: Sequence[Any],
    difficulty: Any = None,
    measure_id: uuid.UUID | None = None,
    written_at: dt.datetime | None = None,
) -> MeasureAnswer:
    """Answer a measure prompt: score and store the questionnaire (journal's
    measure_create, linked to the prompt's session while it exists) and mark the prompt
    completed with it, in one transaction. A PHQ-9 whose item 9 is above 0 runs the safety
    hooks inside that transaction (`settings.JOURNAL_SAFETY_HOOKS`), late answers included.
    Answers written while the prompt was open and sent after it closed are kept
    (`MeasureAnswer.is_late`).

    With `measure_id` (the client's own UUID for the measure) a repeat after a lost
    response answers the prompt and its measure as the first did.
    """
    now = timezone.now()
    written = written_at or now
    prompt = _prompt_for_patient(patient, prompt_id)
    exercise = prompt.exercise
    if exercise.answer_kind != AnswerKind.MEASURE or not exercise.instrument:
        raise _conflict(
            prompt, "This prompt is answered with a journal entry: send `body`, not `answers`."
        )
    # A bad submission is a 400 whatever the prompt's state: checked before the 409s.
    errors = instruments.validate(exercise.instrument, answers, difficulty)
    if errors:
        raise invalid_fields(errors)
    if _not_yet_due(prompt, written, now):
        raise _invalid_transition("completed", prompt)
    session = prompt.session
    with transaction.atomic():
        created = measures_services.measure_create(
            patient=patient,
            instrument=exercise.instrument,
            answers=answers,
            id=measure_id,
            difficulty=difficulty,
            session_id=session.pk if session.deleted_at is None else None,
            taken_at=written_at,
        )
        is_completed = _answer(prompt, now, written, measure=created.record)
    prompt.refresh_from_db()
    measure = created.record
    if not created.is_new:
        measure = open_measure(measure, sealer=sealer_for(patient))
    is_late = not is_completed and not (
        prompt.status == PromptStatus.COMPLETED and prompt.measure_id == measure.pk
    )
    return MeasureAnswer(
        prompt=prompt, measure=measure, is_late=is_late, is_repeat=not created.is_new
    )
