"""Writes to the patient's own record: treatment sessions, journal entries and measures.

Every write of a patient's record takes the next number from that patient's change counter
(`_next_change`) inside its transaction, before it touches any row. The counter row stays
locked until commit, which does two things: a patient's writes run one at a time (so row
locks taken afterwards are never contended by another API write, and cannot deadlock), and
change numbers commit in counter order, which is what lets a sync cursor never skip one.

Free text is sealed (`journal.keys.Sealer`) before it reaches a model field; the plaintext
lives only in the request that sent it. Whenever a row is written, all its sealed fields are
sealed again under the active data key, so a row's `key_version` always names the key of
every field (rotation finds rows under old keys by it).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Model
from django.utils import timezone
from django.utils.module_loading import import_string
from rest_framework.exceptions import NotFound

from backend.accounts.models import User
from backend.errors import ProblemError
from journal import measures, selectors, sql
from journal.keys import Sealer, sealer_for
from journal.measure_items import open_measure, seal_items
from journal.models import (
    AFTER_EFFECTS,
    Entry,
    EntryKind,
    Measure,
    SessionKind,
    SessionStatus,
    Severity,
    SyncState,
    TreatmentSession,
)

RecordT = TypeVar("RecordT", TreatmentSession, Entry, Measure)

NOTE_MAX_CHARS = 20_000
TITLE_MAX_CHARS = 200
BODY_MAX_CHARS = 20_000
TAGS_MAX = 10
TAG_MAX_CHARS = 40
INTENTIONS_MAX = 50
# How far ahead of the server's clock a measure's `taken_at` may be: an offline phone's
# clock can be off, and refusing its measure for that would lose it.
MEASURE_CLOCK_TOLERANCE = timedelta(hours=24)


@dataclass(frozen=True)
class Created(Generic[RecordT]):
    """The outcome of a create: the record, and whether this call made it (False when it
    repeats an earlier create with the same id and the same content)."""

    record: RecordT
    is_new: bool


class VersionConflictError(Exception):
    """The caller's version is not the current one; `current` is the row as it is now."""

    def __init__(self, current: TreatmentSession | Entry) -> None:
        super().__init__("version conflict")
        self.current = current


def _id_conflict() -> ProblemError:
    # The same answer whether the id belongs to another of this patient's records, a deleted
    # one, or another patient's: ids are random UUIDs (122 random bits), so nobody can guess
    # one to probe with, and this answer says nothing about whose it is.
    return ProblemError(
        409,
        "id_conflict",
        "This id is already used by a different record. Send the same content to repeat "
        "a create, or choose a new random UUID.",
    )


def _invalid(errors: Mapping[str, list[str]]) -> ProblemError:
    """A 400 shaped like the handler's field errors, for the rules checked here.

    These messages are fixed sentences that never hold what the client sent, so they go
    out as written. (The handler replaces any message that contains a submitted string,
    and a message naming a rule, "... a completed dosing session", would otherwise be
    blanked whenever the client sent `"status": "completed"`.)
    """
    return ProblemError(
        400,
        "validation",
        "Some fields are invalid: see 'errors'.",
        extra={"errors": dict(errors)},
    )


def _next_change(patient: User) -> int:
    """Take the patient's next change number. Call inside `transaction.atomic()`.

    The UPDATE locks the patient's counter row until the transaction ends, so a second
    writer for this patient waits here and gets a higher number only after this one has
    committed (or rolled back, giving the number back).
    """
    # One statement that both takes the number and reads it (PostgreSQL, and SQLite since
    # 3.35, have UPDATE ... RETURNING); the ORM's update() returns only a row count.
    owner = SyncState._meta.get_field("patient")
    quote = connection.ops.quote_name
    sql = (
        f"UPDATE {quote(SyncState._meta.db_table)} SET last_change = last_change + 1 "  # noqa: S608 (names only)
        f"WHERE {quote(owner.column)} = %s RETURNING last_change"
    )
    # The id as this database stores it (a UUID on PostgreSQL, hex text on SQLite).
    patient_id = owner.target_field.get_db_prep_value(patient.pk, connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, [patient_id])
        row = cursor.fetchone()
        if row is None:
            SyncState.objects.get_or_create(patient=patient)
            cursor.execute(sql, [patient_id])
            row = cursor.fetchone()
    return int(row[0])


def _check_version(
    row: TreatmentSession | Entry, expected_versions: Collection[int] | None
) -> None:
    """`expected_versions` None means any version will do (no precondition, or `*`)."""
    if expected_versions is not None and row.version not in expected_versions:
        raise VersionConflictError(row)


def _mark_changed(row: TreatmentSession | Entry, change: int) -> None:
    row.change = change
    row.version += 1
    row.updated_at = timezone.now()


def _insert(row: Model) -> None:
    """Insert a row whose id the client may have chosen; a taken id is a 409."""
    try:
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError:
        raise _id_conflict() from None


def _existing_for_create(
    model: type[RecordT], record_id: uuid.UUID, patient: User
) -> RecordT | None:
    """The live record of this patient with this id, or None when the id is free.

    Any other holder of the id (a deleted record, another patient's) is a 409.
    """
    existing = model._default_manager.filter(pk=record_id).first()
    if existing is None:
        return None
    if existing.patient_id != patient.pk or existing.deleted_at is not None:
        raise _id_conflict()
    return existing


# Treatment sessions ---------------------------------------------------------------------


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


def _validate_session(values: Mapping[str, Any]) -> None:
    """The rules between a session's fields; every broken one is reported at once."""
    errors: dict[str, list[str]] = {}
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
        raise _invalid(errors)


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
    _validate_session(values)
    session = TreatmentSession(id=id or uuid.uuid4(), patient=patient)
    _apply_session_values(session, values, sealer=sealer)
    with transaction.atomic():
        session.change = _next_change(patient)
        try:
            _insert(session)
        except ProblemError:
            # Made by another request of this patient's while this one waited for the
            # counter; the number taken here is left unused (sync does not mind gaps).
            repeat = _session_repeat(session.id, patient, values, sealer)
            if repeat is None:
                raise
            return Created(repeat, is_new=False)
        _session_changed(session)
    return Created(session, is_new=True)


def _session_repeat(
    session_id: uuid.UUID, patient: User, values: Mapping[str, Any], sealer: Sealer
) -> TreatmentSession | None:
    existing = _existing_for_create(TreatmentSession, session_id, patient)
    if existing is None:
        return None
    if _session_values(existing, sealer=sealer) != values:
        raise _id_conflict()
    return existing


def _locked_session(patient: User, session_id: uuid.UUID) -> TreatmentSession:
    # FOR NO KEY UPDATE: holds off key rotation's re-sealing of this row, yet lets entries
    # that reference the session be written meanwhile.
    session = (
        selectors.session_queryset_for_patient(patient=patient)
        .select_for_update(no_key=True)
        .filter(pk=session_id)
        .first()
    )
    if session is None:
        raise NotFound()
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
        change = _next_change(patient)
        session = _locked_session(patient, session_id)
        _check_version(session, expected_versions)
        values = _session_values(session, sealer=sealer)
        for name, value in data.items():
            if name in ("modality", "setting"):
                value = value or ""
            values[name] = value
        _validate_session(values)
        _mark_changed(session, change)  # first: the note is sealed to the new version
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
    (404) for them as for everything else."""
    with transaction.atomic():
        change = _next_change(patient)
        session = _locked_session(patient, session_id)
        _check_version(session, expected_versions)
        session.note_sealed = ""
        session.after_effects = None
        session.overall_rating = None
        session.deleted_at = timezone.now()
        _mark_changed(session, change)
        session.save()
        _session_changed(session)
    return session


# Entries --------------------------------------------------------------------------------


def _content_value(body: str, tags: Sequence[str]) -> str:
    """Body and tags are sealed together as one JSON value (read by
    `selectors.open_content`), so nothing about the tags shows beside the body."""
    return json.dumps({"body": body, "tags": list(tags)}, ensure_ascii=False)


def _entry_values(entry: Entry, *, sealer: Sealer) -> dict[str, Any]:
    body, tags = selectors.open_content(entry, sealer=sealer)
    return {
        "kind": entry.kind,
        "session_id": entry.session_id,
        "title": sealer.open(entry, "title_sealed"),
        "body": body,
        "tags": tags,
        "mood": entry.mood,
        "intention_ids": selectors.intention_ids(entry),  # prefetched or loaded by the callers
    }


def _validate_entry_text(values: Mapping[str, Any], errors: dict[str, list[str]]) -> None:
    if len(values["title"]) > TITLE_MAX_CHARS:
        errors["title"] = [f"At most {TITLE_MAX_CHARS} characters."]
    if len(values["body"]) > BODY_MAX_CHARS:
        errors["body"] = [f"At most {BODY_MAX_CHARS} characters."]
    tags = values["tags"]
    if len(tags) > TAGS_MAX or any(not 1 <= len(tag) <= TAG_MAX_CHARS for tag in tags):
        errors["tags"] = [f"At most {TAGS_MAX} tags of 1 to {TAG_MAX_CHARS} characters each."]
    if values["mood"] is not None and not 0 <= values["mood"] <= 10:
        errors["mood"] = ["Give a mood from 0 to 10."]


def _validate_session_link(
    *, patient: User, kind: str, session_id: uuid.UUID, errors: dict[str, list[str]]
) -> None:
    session = selectors.session_queryset_for_patient(patient=patient).filter(pk=session_id).first()
    if session is None:
        # The same answer for an id that does not exist and one that is not the patient's.
        errors["session"] = ["No such session."]
        return
    now = timezone.now()
    is_dosing = session.kind == SessionKind.DOSING
    if kind == EntryKind.INTENTION:
        is_upcoming = session.status == SessionStatus.SCHEDULED and session.scheduled_start > now
        if not (is_dosing and is_upcoming):
            errors["session"] = [
                "An intention can be linked only to an upcoming dosing session "
                "(scheduled, with its start in the future)."
            ]
    elif kind == EntryKind.REFLECTION:
        has_taken_place = session.status == SessionStatus.COMPLETED or (
            session.status == SessionStatus.SCHEDULED and session.scheduled_start <= now
        )
        if not (is_dosing and has_taken_place):
            errors["session"] = [
                "A reflection can be linked only to a dosing session that has taken place "
                "(completed, or scheduled in the past and not cancelled)."
            ]


def _validate_intentions(
    *,
    patient: User,
    kind: str,
    entry_id: uuid.UUID,
    intention_ids: Sequence[uuid.UUID],
    errors: dict[str, list[str]],
) -> None:
    if not intention_ids:
        return
    if kind != EntryKind.REFLECTION:
        errors["intention_ids"] = ["Only a reflection looks back on intentions."]
        return
    if len(intention_ids) > INTENTIONS_MAX:
        errors["intention_ids"] = [f"At most {INTENTIONS_MAX} intentions."]
        return
    wanted = set(intention_ids)
    found = set(
        selectors.entry_queryset_for_patient(patient=patient)
        .filter(pk__in=wanted, kind=EntryKind.INTENTION)
        .exclude(pk=entry_id)
        .values_list("pk", flat=True)
    )
    if found != wanted:
        errors["intention_ids"] = ["Give ids of your own intention entries."]


def _validate_entry(
    *,
    patient: User,
    entry_id: uuid.UUID,
    values: Mapping[str, Any],
    changed: Collection[str],
) -> None:
    """`changed` names the fields this write sets: a link is checked when it is made (or
    its entry's kind changes), not on every later edit, so an intention can still be edited
    after its dosing session has taken place."""
    errors: dict[str, list[str]] = {}
    _validate_entry_text(values, errors)
    if values["session_id"] is not None and {"session_id", "kind"} & set(changed):
        _validate_session_link(
            patient=patient, kind=values["kind"], session_id=values["session_id"], errors=errors
        )
    if {"intention_ids", "kind"} & set(changed):
        _validate_intentions(
            patient=patient,
            kind=values["kind"],
            entry_id=entry_id,
            intention_ids=values["intention_ids"],
            errors=errors,
        )
    if errors:
        raise _invalid(errors)


def _apply_entry_values(entry: Entry, values: Mapping[str, Any], *, sealer: Sealer) -> None:
    entry.kind = values["kind"]
    entry.session_id = values["session_id"]
    entry.mood = values["mood"]
    entry.title_sealed = sealer.seal(entry, "title_sealed", values["title"])
    entry.content_sealed = sealer.seal(
        entry, "content_sealed", _content_value(values["body"], values["tags"])
    )


def entry_create(
    *,
    patient: User,
    kind: str,
    id: uuid.UUID | None = None,
    session_id: uuid.UUID | None = None,
    title: str = "",
    body: str = "",
    tags: Sequence[str] = (),
    mood: int | None = None,
    intention_ids: Sequence[uuid.UUID] = (),
    sealer: Sealer | None = None,
) -> Created[Entry]:
    """Create an entry, or answer the existing one when a client repeats a create."""
    sealer = sealer or sealer_for(patient)
    values: dict[str, Any] = {
        "kind": kind,
        "session_id": session_id,
        "title": title,
        "body": body,
        "tags": list(tags),
        "mood": mood,
        "intention_ids": sorted(set(intention_ids)),
    }
    if session_id is None and not values["intention_ids"] and sql.is_available():
        # No link to check under the patient's write lock: one statement takes the next
        # change number and inserts. A taken id (a repeat, or a 409) or a patient without
        # a change counter yet writes nothing, and the general path below answers.
        errors: dict[str, list[str]] = {}
        _validate_entry_text(values, errors)
        if errors:
            raise _invalid(errors)
        entry = Entry(id=id or uuid.uuid4(), patient=patient)
        _apply_entry_values(entry, values, sealer=sealer)
        if sql.insert_entry_with_next_change(entry):
            return Created(selectors.entry_without_links(entry), is_new=True)
    if id is not None:
        repeat = _entry_repeat(id, patient, values, sealer)
        if repeat is not None:
            return Created(repeat, is_new=False)
    entry = Entry(id=id or uuid.uuid4(), patient=patient)
    _apply_entry_values(entry, values, sealer=sealer)
    with transaction.atomic():
        entry.change = _next_change(patient)
        # Checked under the patient's write lock, so the linked session and intentions
        # cannot be deleted between the check and the insert.
        _validate_entry(patient=patient, entry_id=entry.id, values=values, changed=values.keys())
        try:
            _insert(entry)
        except ProblemError:
            # Made by another request of this patient's while this one waited for the
            # counter; the number taken here is left unused (sync does not mind gaps).
            repeat = _entry_repeat(entry.id, patient, values, sealer)
            if repeat is None:
                raise
            return Created(repeat, is_new=False)
        if values["intention_ids"]:
            entry.intentions.set(values["intention_ids"])
            return Created(selectors.entry_with_links(entry), is_new=True)
    return Created(selectors.entry_without_links(entry), is_new=True)


def _entry_repeat(
    entry_id: uuid.UUID, patient: User, values: Mapping[str, Any], sealer: Sealer
) -> Entry | None:
    existing = _existing_for_create(Entry, entry_id, patient)
    if existing is None:
        return None
    existing = selectors.entry_with_links(existing)
    if _entry_values(existing, sealer=sealer) != values:
        raise _id_conflict()
    return existing


def _locked_entry(patient: User, entry_id: uuid.UUID) -> Entry:
    entry = (
        selectors.entry_queryset_for_patient(patient=patient)
        .select_for_update(no_key=True, of=("self",))
        .filter(pk=entry_id)
        .first()
    )
    if entry is None:
        raise NotFound()
    return selectors.entry_with_links(entry)


def entry_update(
    *,
    patient: User,
    entry_id: uuid.UUID,
    data: Mapping[str, Any],
    expected_versions: Collection[int] | None,
    sealer: Sealer | None = None,
) -> Entry:
    """Change some fields of a live entry of the patient's (a partial update).

    `data` holds only the fields to change: kind, session_id, title, body, tags, mood,
    intention_ids. Raises NotFound and VersionConflictError as `session_update` does.
    """
    sealer = sealer or sealer_for(patient)
    with transaction.atomic():
        change = _next_change(patient)
        entry = _locked_entry(patient, entry_id)
        _check_version(entry, expected_versions)
        values = _entry_values(entry, sealer=sealer)
        updates = dict(data)
        if "tags" in updates:
            updates["tags"] = list(updates["tags"])
        if "intention_ids" in updates:
            updates["intention_ids"] = sorted(set(updates["intention_ids"]))
        values.update(updates)
        _validate_entry(patient=patient, entry_id=entry.id, values=values, changed=updates.keys())
        _mark_changed(entry, change)  # first: the text is sealed to the new version
        _apply_entry_values(entry, values, sealer=sealer)
        entry.save()
        if "intention_ids" in updates:
            entry.intentions.set(values["intention_ids"])
    return selectors.entry_with_links(entry)


def entry_delete(
    *,
    patient: User,
    entry_id: uuid.UUID,
    expected_versions: Collection[int] | None,
) -> Entry:
    """Leave a tombstone: text, mood and the entry's own links to intentions go; the id,
    kind and times stay for sync. Reflections that looked back on a deleted intention keep
    its id."""
    with transaction.atomic():
        change = _next_change(patient)
        entry = _locked_entry(patient, entry_id)
        _check_version(entry, expected_versions)
        entry.title_sealed = ""
        entry.content_sealed = ""
        entry.mood = None
        entry.deleted_at = timezone.now()
        _mark_changed(entry, change)
        entry.save()
        entry.intentions.clear()
    return entry


# Measures -------------------------------------------------------------------------------


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
    existing = _existing_for_create(Measure, measure_id, patient)
    if existing is None:
        return None
    stored = _measure_values(open_measure(existing, sealer=sealer))
    if values["taken_at"] is None:
        # The first create left the time to the server; its repeat cannot know it.
        stored["taken_at"] = None
    if stored != values:
        raise _id_conflict()
    return existing


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

    Every item is checked (`journal.measures.validate`): a 400 names each bad item. The
    session, if given, must be one of the patient's live sessions. The items are sealed
    (`journal.measure_items`); the returned measure carries them as submitted. A PHQ-9
    whose item 9 is above 0 runs the safety hooks in the same transaction, on the answers
    as submitted (only when it is new: a repeat has run them already).
    """
    sealer = sealer or sealer_for(patient)
    if instrument not in measures.INSTRUMENTS:
        raise _invalid({"instrument": ["Choose one of: " + ", ".join(measures.INSTRUMENTS) + "."]})
    errors = measures.validate(instrument, answers, difficulty)
    if errors:
        raise _invalid(errors)
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
        raise _invalid({"taken_at": ["A measure cannot be taken in the future."]})
    result = measures.score(instrument, values["answers"])
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
    with transaction.atomic():
        measure.change = _next_change(patient)
        # Checked under the patient's write lock, so the session cannot be deleted between
        # the check and the insert.
        if (
            session_id is not None
            and not selectors.session_queryset_for_patient(patient=patient)
            .filter(pk=session_id)
            .exists()
        ):
            raise _invalid({"session": ["No such session."]})
        try:
            _insert(measure)
        except ProblemError:
            # Made by another request of this patient's while this one waited for the
            # counter; the number taken here is left unused (sync does not mind gaps).
            repeat = _measure_repeat(measure.id, patient, values, sealer)
            if repeat is None:
                raise
            return Created(repeat, is_new=False)
        if measures.needs_safety_response(instrument, values["answers"]):
            _safety_hooks(measure)
    return Created(measure, is_new=True)


def measures_erase(*, user: User) -> int:
    """Delete every measure of a patient (an account erasure hook).

    Their item answers are sealed, and unreadable once the data keys are destroyed; the
    totals, bands and dates are not, and are health data that must not outlive the account.
    """
    deleted, _ = Measure.objects.filter(patient_id=user.pk).delete()
    return deleted
