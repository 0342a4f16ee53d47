"""Writes of measures: a scored PHQ-9 or GAD-7 (the safety hooks run in its transaction),
and their erasure with the account.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from backend.accounts.models import User
from backend.errors import invalid_fields
from journal import access, instruments
from journal.keys import Sealer, sealer_for
from journal.measure_items import open_measure, seal_items
from journal.models import (
    Measure,
)
from journal.records import Created, create_once, repeat_of

# How far ahead of the server's clock a measure's `taken_at` may be: an offline phone's
# clock can be off, and refusing its measure for that would lose it.
MEASURE_CLOCK_TOLERANCE = timedelta(hours=24)


def _measure_values(measure: Measure) -> dict[str, Any]:
    return {
        "instrument": measure.instrument,
        "answers": list(measure.answers),
        "difficulty": measure.difficulty,
        "session_id": measure.session_id,
        "taken_at": measure.taken_at,
    }


def _measure_repeat(
    measure_id: uuid.UUID, patient: User, values: Mapping[str, Any], sealer: Sealer
) -> Measure | None:

    def stored(existing: Measure) -> dict[str, Any]:
        found = _measure_values(open_measure(existing, sealer=sealer))
        if values["taken_at"] is None:
            # The first create left the time to the server; its repeat cannot know it.
            found["taken_at"] = None
        return found

    return repeat_of(Measure, measure_id, patient, values=values, stored=stored)


def _safety_hooks(measure: Measure) -> None:
    """Tell the apps built on the journal that a measure asks for a safety response,
    inside the transaction that creates it, so the measure is never stored without what
    they make of it (integration's alert to a linked therapist).
    `settings.JOURNAL_SAFETY_HOOKS` names them, so the journal imports nothing above it."""
    for path in getattr(settings, "JOURNAL_SAFETY_HOOKS", []):
        import_string(path)(measure=measure)


def measure_create(
    *,
    patient: User,
    instrument: str,
    answers: Sequence[Any],
    id: uuid.UUID | None = None,
    difficulty: Any = None,
    session_id: uuid.UUID | None = None,
    taken_at: datetime | None = None,
    sealer: Sealer | None = None,
) -> Created[Measure]:
    """Score and store a measure, or answer the existing one when a client repeats a create.

    Every item is checked (`journal.instruments.validate`): a 400 names each bad item. The
    session, if given, must be one of the patient's live sessions. A PHQ-9 whose item 9 is
    above 0 runs the safety hooks in the same transaction (only when it is new: a repeat
    has run them already). The items are sealed (`journal.measure_items`); the returned
    measure carries them as submitted, and the safety hooks see the answers as submitted.
    """
    sealer = sealer or sealer_for(patient)
    if instrument not in instruments.INSTRUMENTS:
        raise invalid_fields(
            {"instrument": ["Choose one of: " + ", ".join(instruments.INSTRUMENTS) + "."]}
        )
    errors = instruments.validate(instrument, answers, difficulty)
    if errors:
        raise invalid_fields(errors)
    values: dict[str, Any] = {
        "instrument": instrument,
        "answers": list(answers),
        "difficulty": difficulty,
        "session_id": session_id,
        "taken_at": taken_at,
    }
    if id is not None:
        repeat = _measure_repeat(id, patient, values, sealer)
        if repeat is not None:
            return Created(repeat, is_new=False)
    if taken_at is not None and taken_at > timezone.now() + MEASURE_CLOCK_TOLERANCE:
        raise invalid_fields({"taken_at": ["A measure cannot be taken in the future."]})
    result = instruments.score(instrument, values["answers"])
    measure = Measure(
        id=id or uuid.uuid4(),
        patient=patient,
        instrument=instrument,
        total=result.total,
        band=result.band,
        session_id=session_id,
        taken_at=taken_at or timezone.now(),
    )
    seal_items(measure, answers=values["answers"], difficulty=difficulty, sealer=sealer)

    def check_session() -> None:
        # Under the patient's write lock, so the session cannot be deleted between the
        # check and the insert.
        if (
            session_id is not None
            and not access.session_queryset_for_patient(patient=patient)
            .filter(pk=session_id)
            .exists()
        ):
            raise invalid_fields({"session": ["No such session."]})

    with transaction.atomic():
        created = create_once(
            patient,
            measure,
            repeat=lambda measure_id: _measure_repeat(measure_id, patient, values, sealer),
            check=check_session,
        )
        if created.is_new and instruments.needs_safety_response(instrument, values["answers"]):
            _safety_hooks(measure)
    return created


def measures_erase(*, user: User) -> int:
    """Delete every measure of a patient (an account erasure hook).

    Their item answers are sealed, and unreadable once the data keys are destroyed; the
    totals, bands and dates are not, and are health data that must not outlive the account.
    """
    deleted, _ = Measure.objects.filter(patient_id=user.pk).delete()
    return deleted
