"""The owner's scope: the root querysets every read of a patient's own record starts from.

Each takes the patient, so nothing else can be reached; "not yours" and "does not exist"
answer alike (404) in the selectors built on them.
"""

from __future__ import annotations

import uuid
from typing import TypeVar

from django.db.models import QuerySet

from backend.accounts.models import User
from journal.models import (
    Entry,
    Measure,
    TreatmentSession,
)


def session_queryset_for_patient(*, patient: User) -> QuerySet[TreatmentSession]:
    """The patient's live sessions (deleted ones are tombstones, seen only by sync)."""
    return TreatmentSession.objects.filter(patient=patient, deleted_at__isnull=True)


def entry_queryset_for_patient(*, patient: User) -> QuerySet[Entry]:
    """The patient's live entries."""
    return Entry.objects.filter(patient=patient, deleted_at__isnull=True)


def measure_queryset_for_patient(*, patient: User) -> QuerySet[Measure]:
    """The patient's live measures."""
    return Measure.objects.filter(patient=patient, deleted_at__isnull=True)


RecordT = TypeVar("RecordT", TreatmentSession, Entry)


def tombstone_of(model: type[RecordT], *, patient: User, record_id: uuid.UUID) -> RecordT | None:
    """The patient's deleted record of this id (its tombstone), for a repeated delete."""
    return model.objects.filter(patient=patient, pk=record_id, deleted_at__isnull=False).first()
