"""Reads of treatment sessions, and `open_session`: a row's plaintext view for one response
(`session_without_note`, the same without the note)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from backend.accounts.models import User
from journal.access import missing_or_gone, session_queryset_for_patient
from journal.api import filtered
from journal.keys import Sealer
from journal.models import (
    TreatmentSession,
)


def session_list_for_patient(
    *, patient: User, filters: Mapping[str, Any] | None = None
) -> QuerySet[TreatmentSession]:
    """Filters: `kind`, `status`, `starts_from` (inclusive), `starts_before` (exclusive)."""
    sessions = filtered(
        session_queryset_for_patient(patient=patient),
        filters,
        {
            "kind": "kind",
            "status": "status",
            "starts_from": "scheduled_start__gte",
            "starts_before": "scheduled_start__lt",
        },
    )
    return sessions.order_by("scheduled_start", "id")


def session_get_for_patient(*, patient: User, session_id: uuid.UUID) -> TreatmentSession:
    """The patient's live session; NotFound alike for missing and not theirs, 410 `gone`
    for their deleted one."""
    session = session_queryset_for_patient(patient=patient).filter(pk=session_id).first()
    if session is None:
        raise missing_or_gone(TreatmentSession, patient=patient, record_id=session_id)
    return session


@dataclass(frozen=True)
class SessionWithoutNote:
    """A session's columns that are not sealed: all of it but the note, for a reader who
    may not open the note."""

    id: uuid.UUID
    kind: str
    modality: str | None
    setting: str | None
    scheduled_start: datetime
    actual_start: datetime | None
    actual_end: datetime | None
    status: str
    after_effects: dict[str, str] | None
    overall_rating: int | None
    version: int
    written_at: datetime
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class OpenedSession(SessionWithoutNote):
    """A session as its owner reads it: the note opened. Lives only while a response is
    built."""

    note: str


def session_without_note(session: TreatmentSession) -> SessionWithoutNote:
    return SessionWithoutNote(
        id=session.id,
        kind=session.kind,
        modality=session.modality or None,
        setting=session.setting or None,
        scheduled_start=session.scheduled_start,
        actual_start=session.actual_start,
        actual_end=session.actual_end,
        status=session.status,
        after_effects=session.after_effects,
        overall_rating=session.overall_rating,
        version=session.version,
        written_at=session.written_time,
        created_at=session.created_at,
        updated_at=session.updated_at,
    )


def open_session(session: TreatmentSession, *, sealer: Sealer) -> OpenedSession:
    return OpenedSession(
        **vars(session_without_note(session)), note=sealer.open(session, "note_sealed")
    )
