"""The owner's scope: the root querysets every read of a patient's own record starts from.

Each takes the patient, so nothing else can be reached; "not yours" and "does not exist"
answer alike (404) in the selectors built on them.
"""

from __future__ import annotations

import uuid
from typing import TypeVar

from django.db.models import QuerySet
from rest_framework.exceptions import NotFound

from backend.accounts.models import User
from backend.api import api_datetime
from backend.errors import ProblemError
from backend.problem_codes import ProblemCode
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


def missing_or_gone(model: type[RecordT], *, patient: User, record_id: uuid.UUID) -> Exception:
    """What a read or change of a record that is not live answers: 410 `gone` when it is
    the patient's own deleted record (with when, and the tombstone's version as its ETag,
    the version a repeated DELETE answers), 404 otherwise. 410 is the one status of every
    deleted resource: a revoked share and an ended care link answer it too."""
    tombstone = tombstone_of(model, patient=patient, record_id=record_id)
    if tombstone is None or tombstone.deleted_at is None:
        return NotFound()
    return ProblemError(
        410,
        ProblemCode.GONE,
        "This record was deleted. Sync reports it as deleted; remove it from the device.",
        extra={
            "id": str(tombstone.pk),
            "deleted_at": api_datetime(tombstone.deleted_at),
            "version": tombstone.version,
        },
        headers={"ETag": f'"{tombstone.version}"'},
    )
