"""Writes of treatment sessions: create, update, delete (a tombstone), each re-planning the
session's prompts through `settings.JOURNAL_SESSION_HOOKS` in the same transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

from backend.accounts.models import User
from backend.errors import invalid_fields
from journal import access
from journal.keys import Sealer, sealer_for
from journal.models import (
    AFTER_EFFECTS,
    SessionKind,
    SessionStatus,
    Severity,
    TreatmentSession,
)
from journal.records import (
    Created,
    check_written_at,
    create_once,
    delete_once,
    lock_for_change,
    mark_changed,
    repeat_of,
    tombstone,
)

NOTE_MAX_CHARS = 20_000


def _session_values(session: TreatmentSession, *, sealer: Sealer) -> dict[str, Any]:
    return {
        "kind": session.kind,
        "modality": session.modality,
        "setting": session.setting,
        "scheduled_start": session.scheduled_start,
        "actual_start": session.actual_start,
        "actual_end": session.actual_end,
        "status": session.status,
        "note": sealer.open(session, "note_sealed"),
        "after_effects": session.after_effects,
        "overall_rating": session.overall_rating,
    }


def _validate_session(
    values: Mapping[str, Any], *, patient: User, written_at: datetime | None
) -> None:
    """The rules between a session's fields; every broken one is reported at once."""
    errors: dict[str, list[str]] = {}
    check_written_at(patient, written_at, errors)
    is_dosing = values["kind"] == SessionKind.DOSING
    if is_dosing and not values["modality"]:
        errors["modality"] = ["A dosing session needs a modality."]
    if not is_dosing and values["modality"]:
        errors["modality"] = ["Only a dosing session has a modality."]
    if not is_dosing and values["setting"]:
        errors["setting"] = ["Only a dosing session has a setting."]
    start, end = values["actual_start"], values["actual_end"]
    if end is not None and start is None:
        errors["actual_start"] = ["Give the actual start together with the actual end."]
    if start is not None and end is not None and end <= start:
        errors["actual_end"] = ["The actual end must be after the actual start."]
    is_completed_dosing = is_dosing and values["status"] == SessionStatus.COMPLETED
    only_after_dosing = "Recorded only for a completed dosing session."
    if values["after_effects"] is not None:
        if not is_completed_dosing:
            errors["after_effects"] = [only_after_dosing]
        elif set(values["after_effects"]) != set(AFTER_EFFECTS) or any(
            grade not in Severity.values for grade in values["after_effects"].values()
        ):
            errors["after_effects"] = [
                "Give a grade ("
                + ", ".join(Severity.values)
                + ") for each of: "
                + ", ".join(AFTER_EFFECTS)
                + "."
            ]
    if values["overall_rating"] is not None:
        if not is_completed_dosing:
            errors["overall_rating"] = [only_after_dosing]
        elif not 0 <= values["overall_rating"] <= 10:
            errors["overall_rating"] = ["Give a rating from 0 to 10."]
    if len(values["note"]) > NOTE_MAX_CHARS:
        errors["note"] = [f"At most {NOTE_MAX_CHARS} characters."]
    if errors:
        raise invalid_fields(errors)


def _apply_session_values(
    session: TreatmentSession, values: Mapping[str, Any], *, sealer: Sealer
) -> None:
    for name in (
        "kind",
        "modality",
        "setting",
        "scheduled_start",
        "actual_start",
        "actual_end",
        "status",
        "after_effects",
        "overall_rating",
    ):
        setattr(session, name, values[name])
    session.note_sealed = sealer.seal(session, "note_sealed", values["note"])


def _session_changed(session: TreatmentSession) -> None:
    """Tell the apps built on the journal that a session was made, moved, cancelled or
    deleted, inside the same transaction: the timeline rewrites the session's prompts with
    it (settings.JOURNAL_SESSION_HOOKS, so the journal imports nothing above it)."""
    for path in settings.JOURNAL_SESSION_HOOKS:
        import_string(path)(session=session)


def session_create(
    *,
    patient: User,
    kind: str,
    scheduled_start: datetime,
    id: uuid.UUID | None = None,
    modality: str | None = "",
    setting: str | None = "",
    actual_start: datetime | None = None,
    actual_end: datetime | None = None,
    status: str = SessionStatus.SCHEDULED,
    note: str = "",
    after_effects: Mapping[str, str] | None = None,
    overall_rating: int | None = None,
    sealer: Sealer | None = None,
    written_at: datetime | None = None,
) -> Created[TreatmentSession]:
    """Create a session, or answer the existing one when a client repeats a create.

    A client working offline sends its own `id`; repeating the same create (after a lost
    response) finds the record and, if the content is the same, returns it unchanged.
    """
    sealer = sealer or sealer_for(patient)
    values: dict[str, Any] = {
        "kind": kind,
        "modality": modality or "",
        "setting": setting or "",
        "scheduled_start": scheduled_start,
        "actual_start": actual_start,
        "actual_end": actual_end,
        "status": status,
        "note": note,
        "after_effects": dict(after_effects) if after_effects is not None else None,
        "overall_rating": overall_rating,
    }
    if id is not None:
        # Checked before the rules: a repeat must still succeed once time has moved on.
        repeat = _session_repeat(id, patient, values, sealer)
        if repeat is not None:
            return Created(repeat, is_new=False)
    _validate_session(values, patient=patient, written_at=written_at)
    session = TreatmentSession(id=id or uuid.uuid4(), patient=patient, written_at=written_at)
    _apply_session_values(session, values, sealer=sealer)
    with transaction.atomic():
        created = create_once(
            patient,
            session,
            repeat=lambda session_id: _session_repeat(session_id, patient, values, sealer),
        )
        if created.is_new:
            _session_changed(session)
    return created


def _session_repeat(
    session_id: uuid.UUID, patient: User, values: Mapping[str, Any], sealer: Sealer
) -> TreatmentSession | None:
    return repeat_of(
        TreatmentSession,
        session_id,
        patient,
        values=values,
        stored=lambda existing: _session_values(existing, sealer=sealer),
    )


def _locked_session(patient: User, session_id: uuid.UUID) -> TreatmentSession:
    # FOR NO KEY UPDATE: holds off key rotation's re-sealing of this row, yet lets entries
    # that reference the session be written meanwhile.
    session = (
        access.session_queryset_for_patient(patient=patient)
        .select_for_update(no_key=True)
        .filter(pk=session_id)
        .first()
    )
    if session is None:
        raise access.missing_or_gone(TreatmentSession, patient=patient, record_id=session_id)
    return session


def session_update(
    *,
    patient: User,
    session_id: uuid.UUID,
    data: Mapping[str, Any],
    expected_versions: Collection[int] | None,
    sealer: Sealer | None = None,
) -> TreatmentSession:
    """Change some fields of a live session of the patient's (a partial update).

    `data` holds only the fields to change, by their API names. Raises NotFound for a
    session that is missing, deleted or not the patient's, and VersionConflictError when
    the session's version is not one of `expected_versions`.
    """
    sealer = sealer or sealer_for(patient)
    with transaction.atomic():
        change, session = lock_for_change(
            patient, lambda: _locked_session(patient, session_id), expected_versions
        )
        values = _session_values(session, sealer=sealer)
        updates = dict(data)
        written_at = updates.pop("written_at", None)
        for name, value in updates.items():
            if name in ("modality", "setting"):
                value = value or ""
            values[name] = value
        _validate_session(values, patient=patient, written_at=written_at)
        if written_at is not None:
            session.written_at = written_at
        mark_changed(session, change)  # first: the note is sealed to the new version
        _apply_session_values(session, values, sealer=sealer)
        session.save()
        _session_changed(session)
    return session


def session_delete(
    *,
    patient: User,
    session_id: uuid.UUID,
    expected_versions: Collection[int] | None,
) -> TreatmentSession:
    """Leave a tombstone: the text and the after-dosing record go, the id and times stay
    for sync. Entries linked to the session keep the link; the session is simply gone
    (404) for them as for everything else. A repeated delete answers the tombstone."""

    def delete(session: TreatmentSession, change: int) -> None:
        tombstone(session, change, note_sealed="", after_effects=None, overall_rating=None)
        _session_changed(session)

    with transaction.atomic():
        return delete_once(
            patient,
            lock=lambda: _locked_session(patient, session_id),
            find_tombstone=lambda: access.tombstone_of(
                TreatmentSession, patient=patient, record_id=session_id
            ),
            expected_versions=expected_versions,
            delete=delete,
        )
