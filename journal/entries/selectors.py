"""Reads of journal entries, the session journal, and opening sealed text.

Selectors return rows with their text still sealed; `open_entry` and `open_content` turn a
row into its plaintext view for the response being built, with the request's one Sealer.
Anything outside `journal` that shows entry text goes through these two.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Prefetch, QuerySet, prefetch_related_objects

from backend.accounts.models import User
from journal import sql
from journal.access import entry_queryset_for_patient, missing_or_gone
from journal.api import filtered
from journal.keys import Sealer, UnreadableRecordError
from journal.models import (
    Entry,
    EntryKind,
    TreatmentSession,
)
from journal.sessions.selectors import session_get_for_patient

# Where `intention_ids_prefetch` puts a row's intentions: a plain list, which
# `intention_ids` reads without making the row's related manager: 1 µs a row instead of 10
# (a page of 20, measured in a loop).
_PREFETCHED_INTENTIONS = "prefetched_intentions"


def intention_ids_prefetch() -> Prefetch[Any]:
    # Only the ids of the intentions a reflection looks back on: one query per page.
    return Prefetch(
        "intentions",
        queryset=Entry.objects.order_by().only("id"),
        to_attr=_PREFETCHED_INTENTIONS,
    )


def entry_with_links(entry: Entry) -> Entry:
    """The entry with the ids of its intentions loaded (for rows fetched one at a time)."""
    prefetch_related_objects([entry], intention_ids_prefetch())
    return entry


def entry_with_known_links(entry: Entry, intention_ids: Sequence[uuid.UUID] = ()) -> Entry:
    """The entry naming the intentions given, without a query: a new one's, or those a
    write has just set or cleared (a list prefetched before the write no longer holds)."""
    entry.loaded_intention_ids = list(intention_ids)
    return entry


def intention_ids(entry: Entry) -> list[uuid.UUID]:
    """The sorted ids of the intentions the entry looks back on: as loaded with the row
    (journal.sql, `entry_with_known_links`), else from the `intentions` prefetch."""
    if entry.loaded_intention_ids is not None:
        return list(entry.loaded_intention_ids)
    prefetched: list[Entry] | None = getattr(entry, _PREFETCHED_INTENTIONS, None)
    intentions = entry.intentions.all() if prefetched is None else prefetched
    return sorted(intention.pk for intention in intentions)


def entry_list_for_patient(
    *, patient: User, filters: Mapping[str, Any] | None = None
) -> QuerySet[Entry]:
    """Filters: `kind`, `session` (an id), `created_after`, `created_before` (both exclusive)."""
    entries = filtered(
        entry_queryset_for_patient(patient=patient),
        filters,
        {
            "kind": "kind",
            "session": "session_id",
            "created_after": "created_at__gt",
            "created_before": "created_at__lt",
        },
    )
    return entries.prefetch_related(intention_ids_prefetch()).order_by("-created_at", "-id")


def entry_get_for_patient(*, patient: User, entry_id: uuid.UUID) -> Entry:
    """The patient's live entry with its intention ids; NotFound alike for missing and
    not theirs, 410 `gone` for their deleted one. One statement where journal.sql has it,
    else two."""
    if sql.is_available():
        entry = sql.live_entry_with_intention_ids(patient_id=patient.pk, entry_id=entry_id)
    else:
        entry = entry_queryset_for_patient(patient=patient).filter(pk=entry_id).first()
        if entry is not None:
            entry = entry_with_links(entry)
    if entry is None:
        raise missing_or_gone(Entry, patient=patient, record_id=entry_id)
    return entry


@dataclass(frozen=True)
class SessionJournal:
    session: TreatmentSession
    intentions: list[Entry]
    reflections: list[Entry]
    other_entries: list[Entry]


def session_journal_for_patient(*, patient: User, session_id: uuid.UUID) -> SessionJournal:
    """A session with the live entries linked to it, oldest first, by kind."""
    session = session_get_for_patient(patient=patient, session_id=session_id)
    entries = list(
        entry_queryset_for_patient(patient=patient)
        .filter(session=session)
        .prefetch_related(intention_ids_prefetch())
        .order_by("created_at", "id")
    )
    return SessionJournal(
        session=session,
        intentions=[entry for entry in entries if entry.kind == EntryKind.INTENTION],
        reflections=[entry for entry in entries if entry.kind == EntryKind.REFLECTION],
        other_entries=[
            entry
            for entry in entries
            if entry.kind not in (EntryKind.INTENTION, EntryKind.REFLECTION)
        ],
    )


@dataclass(frozen=True)
class OpenedEntry:
    """An entry as its owner reads it: title, body and tags opened."""

    id: uuid.UUID
    kind: str
    session: uuid.UUID | None
    title: str
    body: str
    tags: list[str]
    mood: int | None
    version: int
    written_at: datetime
    created_at: datetime
    updated_at: datetime
    intention_ids: list[uuid.UUID] = field(default_factory=list)


def open_content(entry: Entry, *, sealer: Sealer) -> tuple[str, list[str]]:
    """The entry's body and tags, sealed together as one JSON value."""
    if entry.deleted_at is not None:
        return "", []
    try:
        content = json.loads(sealer.open(entry, "content_sealed"))
        body, tags = content["body"], content["tags"]
    except (ValueError, KeyError, TypeError):
        # Opened, yet not what `services._content_value` writes: as unreadable as a bad tag.
        raise UnreadableRecordError() from None
    if not isinstance(body, str) or not isinstance(tags, list):
        raise UnreadableRecordError()
    return body, [str(tag) for tag in tags]


def open_title(entry: Entry, *, sealer: Sealer) -> str:
    """The entry's title in plaintext, for the response being built."""
    return sealer.open(entry, "title_sealed")


def open_entry(entry: Entry, *, sealer: Sealer) -> OpenedEntry:
    body, tags = open_content(entry, sealer=sealer)
    return OpenedEntry(
        id=entry.id,
        kind=entry.kind,
        session=entry.session_id,
        title=open_title(entry, sealer=sealer),
        body=body,
        tags=tags,
        mood=entry.mood,
        version=entry.version,
        written_at=entry.written_time,
        created_at=entry.created_at,
        updated_at=entry.updated_at,
        intention_ids=intention_ids(entry),
    )
