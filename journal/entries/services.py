"""Writes of journal entries: create, update, delete (a tombstone); links to a session and
to the intentions an entry answers are checked under the patient's change counter.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from backend.accounts.models import User
from backend.errors import invalid_fields
from journal import access, sql
from journal.entries import selectors
from journal.keys import Sealer, sealer_for
from journal.models import (
    Entry,
    EntryKind,
    SessionKind,
    SessionStatus,
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

TITLE_MAX_CHARS = 200


BODY_MAX_CHARS = 20_000


TAGS_MAX = 10


TAG_MAX_CHARS = 40


INTENTIONS_MAX = 50


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


def session_link_allowed(*, session: TreatmentSession, kind: str, written: datetime) -> bool:
    """Whether an entry of this kind, written at `written`, may link to the session: an
    intention only to a dosing session still ahead when it was written (an intention
    written before its session and sent after it, from a phone that was offline, is still
    one), a reflection only to one that had taken place, other kinds to any live one."""
    is_dosing = session.kind == SessionKind.DOSING
    if kind == EntryKind.INTENTION:
        start = session.actual_start or session.scheduled_start
        return is_dosing and session.status != SessionStatus.CANCELLED and start > written
    if kind == EntryKind.REFLECTION:
        has_taken_place = session.status == SessionStatus.COMPLETED or (
            session.status == SessionStatus.SCHEDULED and session.scheduled_start <= written
        )
        return is_dosing and has_taken_place
    return True


LINK_RULES = {
    EntryKind.INTENTION: (
        "An intention can be linked only to an upcoming dosing session (one still ahead "
        "when the intention was written, and not cancelled)."
    ),
    EntryKind.REFLECTION: (
        "A reflection can be linked only to a dosing session that has taken place "
        "(completed, or scheduled in the past and not cancelled)."
    ),
}


def _validate_session_link(
    *,
    patient: User,
    kind: str,
    session_id: uuid.UUID,
    errors: dict[str, list[str]],
    written: datetime,
) -> None:
    session = access.session_queryset_for_patient(patient=patient).filter(pk=session_id).first()
    if session is None:
        # The same answer for an id that does not exist and one that is not the patient's.
        errors["session"] = ["No such session."]
    elif not session_link_allowed(session=session, kind=kind, written=written):
        errors["session"] = [LINK_RULES[EntryKind(kind)]]


def _validate_intentions(
    *,
    patient: User,
    kind: str,
    entry_id: uuid.UUID,
    intention_ids: Sequence[uuid.UUID],
    errors: dict[str, list[str]],
    linked: Collection[uuid.UUID] = (),
) -> None:
    """`linked`: the intentions the entry looks back on already; their links stand (one
    may have been deleted since, and the reflection keeps its id), only new ones are
    checked."""
    if not intention_ids:
        return
    if kind != EntryKind.REFLECTION:
        errors["intention_ids"] = ["Only a reflection looks back on intentions."]
        return
    if len(intention_ids) > INTENTIONS_MAX:
        errors["intention_ids"] = [f"At most {INTENTIONS_MAX} intentions."]
        return
    wanted = set(intention_ids) - set(linked)
    if not wanted:
        return
    found = set(
        access.entry_queryset_for_patient(patient=patient)
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
    written_at: datetime | None = None,
    linked: Collection[uuid.UUID] = (),
) -> None:
    """`changed` names the fields whose value this write changes: a link is checked when
    it is made (or its entry's kind changes), not on every later edit, so an intention can
    still be edited after its dosing session has taken place. `linked`: the intentions the
    entry looks back on already (see `_validate_intentions`)."""
    errors: dict[str, list[str]] = {}
    _validate_entry_text(values, errors)
    check_written_at(patient, written_at, errors)
    if values["session_id"] is not None and {"session_id", "kind"} & set(changed):
        _validate_session_link(
            patient=patient,
            kind=values["kind"],
            session_id=values["session_id"],
            errors=errors,
            written=written_at or timezone.now(),
        )
    if {"intention_ids", "kind"} & set(changed):
        _validate_intentions(
            patient=patient,
            kind=values["kind"],
            entry_id=entry_id,
            intention_ids=values["intention_ids"],
            errors=errors,
            linked=linked,
        )
    if errors:
        raise invalid_fields(errors)


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
    written_at: datetime | None = None,
) -> Created[Entry]:
    """Create an entry, or answer the existing one when a client repeats a create.

    `written_at` is the client's time of writing; the link rules hold at that time."""
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
        check_written_at(patient, written_at, errors)
        if errors:
            raise invalid_fields(errors)
        entry = Entry(id=id or uuid.uuid4(), patient=patient, written_at=written_at)
        _apply_entry_values(entry, values, sealer=sealer)
        if sql.insert_entry_with_next_change(entry):
            return Created(selectors.entry_with_known_links(entry), is_new=True)
    if id is not None:
        repeat = _entry_repeat(id, patient, values, sealer)
        if repeat is not None:
            return Created(repeat, is_new=False)
    entry = Entry(id=id or uuid.uuid4(), patient=patient, written_at=written_at)
    _apply_entry_values(entry, values, sealer=sealer)
    with transaction.atomic():
        created = create_once(
            patient,
            entry,
            repeat=lambda entry_id: _entry_repeat(entry_id, patient, values, sealer),
            # Under the patient's write lock, so the linked session and intentions cannot
            # be deleted between the check and the insert.
            check=lambda: _validate_entry(
                patient=patient,
                entry_id=entry.id,
                values=values,
                changed=values.keys(),
                written_at=written_at,
            ),
        )
        if not created.is_new:
            return created
        if values["intention_ids"]:
            entry.intentions.set(values["intention_ids"])
    return Created(selectors.entry_with_known_links(entry, values["intention_ids"]), is_new=True)


def _entry_repeat(
    entry_id: uuid.UUID, patient: User, values: Mapping[str, Any], sealer: Sealer
) -> Entry | None:
    return repeat_of(
        Entry,
        entry_id,
        patient,
        values=values,
        stored=lambda existing: _entry_values(selectors.entry_with_links(existing), sealer=sealer),
    )


def _locked_entry(patient: User, entry_id: uuid.UUID) -> Entry:
    entry = (
        access.entry_queryset_for_patient(patient=patient)
        .select_for_update(no_key=True, of=("self",))
        .filter(pk=entry_id)
        .first()
    )
    if entry is None:
        raise access.missing_or_gone(Entry, patient=patient, record_id=entry_id)
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
        change, entry = lock_for_change(
            patient, lambda: _locked_entry(patient, entry_id), expected_versions
        )
        values = _entry_values(entry, sealer=sealer)
        updates = dict(data)
        written_at = updates.pop("written_at", None)
        if "tags" in updates:
            updates["tags"] = list(updates["tags"])
        if "intention_ids" in updates:
            updates["intention_ids"] = sorted(set(updates["intention_ids"]))
        # A field sent with the value it already has is not a change: a client that sends
        # the whole record back keeps its links as they are, like one that leaves them out.
        changed = {name for name, value in updates.items() if values.get(name) != value}
        linked = values["intention_ids"]
        values.update(updates)
        _validate_entry(
            patient=patient,
            entry_id=entry.id,
            values=values,
            changed=changed,
            written_at=written_at,
            linked=linked,
        )
        if written_at is not None:
            entry.written_at = written_at
        mark_changed(entry, change)  # first: the text is sealed to the new version
        _apply_entry_values(entry, values, sealer=sealer)
        entry.save()
        if "intention_ids" in updates:
            entry.intentions.set(values["intention_ids"])
            selectors.entry_with_known_links(entry, values["intention_ids"])
    return entry


def entry_delete(
    *,
    patient: User,
    entry_id: uuid.UUID,
    expected_versions: Collection[int] | None,
) -> Entry:
    """Leave a tombstone: text, mood and the entry's own links to intentions go; the id,
    kind and times stay for sync. Reflections that looked back on a deleted intention keep
    its id. A repeated delete answers the tombstone."""

    def delete(entry: Entry, change: int) -> None:
        tombstone(entry, change, title_sealed="", content_sealed="", mood=None)
        entry.intentions.clear()
        selectors.entry_with_known_links(entry)  # as a repeated delete's fresh read finds

    with transaction.atomic():
        return delete_once(
            patient,
            lock=lambda: _locked_entry(patient, entry_id),
            find_tombstone=lambda: access.tombstone_of(Entry, patient=patient, record_id=entry_id),
            expected_versions=expected_versions,
            delete=delete,
        )
