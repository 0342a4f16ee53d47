"""Reads of the patient's own record. Each takes the patient: nothing else can be reached.

Selectors return rows with their text still sealed; `open_session` and `open_entry` turn a
row into its plaintext view for the response being built, with the request's one Sealer
(`journal.measure_items.open_measure` opens a measure's item answers).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from django.db.models import Min, Prefetch, QuerySet, prefetch_related_objects
from django.db.models.functions import Coalesce
from django.utils import timezone
from rest_framework.exceptions import NotFound

from backend.accounts.models import User
from journal import measures, sql
from journal.keys import Sealer, UnreadableRecordError
from journal.measure_items import open_measures
from journal.models import (
    Entry,
    EntryKind,
    Measure,
    SessionKind,
    SessionStatus,
    SyncState,
    TreatmentSession,
)


def _intention_ids_prefetch() -> Prefetch[Any]:
    # Only the ids of the intentions a reflection looks back on: one query per page.
    return Prefetch("intentions", queryset=Entry.objects.order_by().only("id"))


# Querysets ------------------------------------------------------------------------------


def session_queryset_for_patient(*, patient: User) -> QuerySet[TreatmentSession]:
    """The patient's live sessions (deleted ones are tombstones, seen only by sync)."""
    return TreatmentSession.objects.filter(patient=patient, deleted_at__isnull=True)


def entry_queryset_for_patient(*, patient: User) -> QuerySet[Entry]:
    """The patient's live entries."""
    return Entry.objects.filter(patient=patient, deleted_at__isnull=True)


def entry_with_links(entry: Entry) -> Entry:
    """The entry with the ids of its intentions loaded (for rows fetched one at a time)."""
    prefetch_related_objects([entry], _intention_ids_prefetch())
    return entry


def entry_without_links(entry: Entry) -> Entry:
    """A new entry that names no intentions, marked as such without a query."""
    entry.loaded_intention_ids = []
    return entry


def intention_ids(entry: Entry) -> list[uuid.UUID]:
    """The sorted ids of the intentions the entry looks back on: as loaded with the row
    (journal.sql, `entry_without_links`), else from the `intentions` prefetch."""
    if entry.loaded_intention_ids is not None:
        return list(entry.loaded_intention_ids)
    return sorted(intention.pk for intention in entry.intentions.all())


def session_list_for_patient(
    *, patient: User, filters: Mapping[str, Any] | None = None
) -> QuerySet[TreatmentSession]:
    """Filters: `kind`, `status`, `starts_from` (inclusive), `starts_before` (exclusive)."""
    filters = filters or {}
    sessions = session_queryset_for_patient(patient=patient)
    if filters.get("kind"):
        sessions = sessions.filter(kind=filters["kind"])
    if filters.get("status"):
        sessions = sessions.filter(status=filters["status"])
    if filters.get("starts_from") is not None:
        sessions = sessions.filter(scheduled_start__gte=filters["starts_from"])
    if filters.get("starts_before") is not None:
        sessions = sessions.filter(scheduled_start__lt=filters["starts_before"])
    return sessions.order_by("scheduled_start", "id")


def session_get_for_patient(*, patient: User, session_id: uuid.UUID) -> TreatmentSession:
    """The patient's live session; NotFound alike for missing, deleted and not theirs."""
    session = session_queryset_for_patient(patient=patient).filter(pk=session_id).first()
    if session is None:
        raise NotFound()
    return session


def entry_list_for_patient(
    *, patient: User, filters: Mapping[str, Any] | None = None
) -> QuerySet[Entry]:
    """Filters: `kind`, `session` (an id), `created_after`, `created_before` (both exclusive)."""
    filters = filters or {}
    entries = entry_queryset_for_patient(patient=patient)
    if filters.get("kind"):
        entries = entries.filter(kind=filters["kind"])
    if filters.get("session") is not None:
        entries = entries.filter(session_id=filters["session"])
    if filters.get("created_after") is not None:
        entries = entries.filter(created_at__gt=filters["created_after"])
    if filters.get("created_before") is not None:
        entries = entries.filter(created_at__lt=filters["created_before"])
    return entries.prefetch_related(_intention_ids_prefetch()).order_by("-created_at", "-id")


def entry_get_for_patient(*, patient: User, entry_id: uuid.UUID) -> Entry:
    """The patient's live entry with its intention ids; NotFound alike for missing,
    deleted and not theirs. One statement where journal.sql has it, else two."""
    if sql.is_available():
        entry = sql.live_entry_with_intention_ids(patient_id=patient.pk, entry_id=entry_id)
    else:
        entry = entry_queryset_for_patient(patient=patient).filter(pk=entry_id).first()
        if entry is not None:
            entry = entry_with_links(entry)
    if entry is None:
        raise NotFound()
    return entry


# Session journal ------------------------------------------------------------------------


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
        .prefetch_related(_intention_ids_prefetch())
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


# Sync -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncChange:
    type: Literal["session", "entry", "measure"]
    record: TreatmentSession | Entry | Measure

    @property
    def change(self) -> int:
        return self.record.change

    @property
    def is_deleted(self) -> bool:
        return self.record.deleted_at is not None


@dataclass(frozen=True)
class SyncPage:
    changes: list[SyncChange]
    last_change: int
    has_more: bool


def sync_changes_for_patient(*, patient: User, since: int, limit: int) -> SyncPage:
    """The patient's sessions, entries and measures (tombstones included) changed after
    `since`, in change order, at most `limit` of them.

    Only changes up to the counter's committed value are read. A change number is taken
    (and the counter row locked) at the start of a write and committed with it, and the
    next writer of the patient waits for that commit before it gets the next number, so
    every number up to the committed counter belongs to a committed row: reading at most up
    to it, across the tables, can never pass over a change that is still to commit. (Two
    plain queries without that bound could: the second may see a later commit the first
    did not.)
    """
    committed = (
        SyncState.objects.filter(patient=patient).values_list("last_change", flat=True).first()
    ) or 0
    window = {"patient": patient, "change__gt": since, "change__lte": committed}
    sessions = list(TreatmentSession.objects.filter(**window).order_by("change")[: limit + 1])
    entries = list(
        Entry.objects.filter(**window)
        .prefetch_related(_intention_ids_prefetch())
        .order_by("change")[: limit + 1]
    )
    measure_rows = list(Measure.objects.filter(**window).order_by("change")[: limit + 1])
    changes = sorted(
        [SyncChange("session", session) for session in sessions]
        + [SyncChange("entry", entry) for entry in entries]
        + [SyncChange("measure", measure) for measure in measure_rows],
        key=lambda item: item.change,
    )
    page = changes[:limit]
    return SyncPage(
        changes=page,
        last_change=page[-1].change if page else since,
        has_more=len(changes) > limit,
    )


# Opening --------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenedSession:
    """A session as its owner reads it: the note opened. Lives only while a response is
    built."""

    id: uuid.UUID
    kind: str
    modality: str | None
    setting: str | None
    scheduled_start: datetime
    actual_start: datetime | None
    actual_end: datetime | None
    status: str
    note: str
    after_effects: dict[str, str] | None
    overall_rating: int | None
    version: int
    created_at: datetime
    updated_at: datetime


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
    created_at: datetime
    updated_at: datetime
    intention_ids: list[uuid.UUID] = field(default_factory=list)


def open_session(session: TreatmentSession, *, sealer: Sealer) -> OpenedSession:
    return OpenedSession(
        id=session.id,
        kind=session.kind,
        modality=session.modality or None,
        setting=session.setting or None,
        scheduled_start=session.scheduled_start,
        actual_start=session.actual_start,
        actual_end=session.actual_end,
        status=session.status,
        note=sealer.open(session, "note_sealed"),
        after_effects=session.after_effects,
        overall_rating=session.overall_rating,
        version=session.version,
        created_at=session.created_at,
        updated_at=session.updated_at,
    )


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


def open_entry(entry: Entry, *, sealer: Sealer) -> OpenedEntry:
    body, tags = open_content(entry, sealer=sealer)
    return OpenedEntry(
        id=entry.id,
        kind=entry.kind,
        session=entry.session_id,
        title=sealer.open(entry, "title_sealed"),
        body=body,
        tags=tags,
        mood=entry.mood,
        version=entry.version,
        created_at=entry.created_at,
        updated_at=entry.updated_at,
        intention_ids=intention_ids(entry),
    )


@dataclass(frozen=True)
class JournalExport:
    """Everything a patient recorded, opened, for their own records."""

    exported_at: datetime
    account: dict[str, str]
    sessions: list[OpenedSession]
    entries: list[OpenedEntry]
    measures: list[Measure]


def journal_export_for_patient(*, patient: User, sealer: Sealer) -> JournalExport:
    """The patient's live sessions, entries (opened) and measures, oldest first (three
    queries and the intentions prefetch, whatever the size of the journal)."""
    sessions = session_queryset_for_patient(patient=patient).order_by("scheduled_start", "id")
    entries = (
        entry_queryset_for_patient(patient=patient)
        .prefetch_related(_intention_ids_prefetch())
        .order_by("created_at", "id")
    )
    return JournalExport(
        exported_at=timezone.now(),
        account={
            "display_name": patient.display_name,
            "email": patient.email,
            "time_zone": patient.time_zone,
        },
        sessions=[open_session(session, sealer=sealer) for session in sessions],
        entries=[open_entry(entry, sealer=sealer) for entry in entries],
        measures=open_measures(
            measure_queryset_for_patient(patient=patient).order_by("taken_at", "id"), sealer=sealer
        ),
    )


# Measures -------------------------------------------------------------------------------


def measure_queryset_for_patient(*, patient: User) -> QuerySet[Measure]:
    """The patient's live measures."""
    return Measure.objects.filter(patient=patient, deleted_at__isnull=True)


def measure_list_for_patient(
    *, patient: User, filters: Mapping[str, Any] | None = None
) -> QuerySet[Measure]:
    """Filters: `instrument`, `session` (an id), `taken_from` (inclusive), `taken_before`
    (exclusive). Newest first."""
    filters = filters or {}
    rows = measure_queryset_for_patient(patient=patient)
    if filters.get("instrument"):
        rows = rows.filter(instrument=filters["instrument"])
    if filters.get("session") is not None:
        rows = rows.filter(session_id=filters["session"])
    if filters.get("taken_from") is not None:
        rows = rows.filter(taken_at__gte=filters["taken_from"])
    if filters.get("taken_before") is not None:
        rows = rows.filter(taken_at__lt=filters["taken_before"])
    return rows.order_by("-taken_at", "-id")


def measure_get_for_patient(*, patient: User, measure_id: uuid.UUID) -> Measure:
    """The patient's live measure; NotFound alike for missing and not theirs."""
    measure = measure_queryset_for_patient(patient=patient).filter(pk=measure_id).first()
    if measure is None:
        raise NotFound()
    return measure


def first_dosing_start_for_patient(*, patient: User) -> datetime | None:
    """When the patient's course of dosing began, or begins: the earliest start (the
    actual one once recorded, else the scheduled one) of their live dosing sessions that
    are not cancelled."""
    start: datetime | None = (
        session_queryset_for_patient(patient=patient)
        .filter(kind=SessionKind.DOSING)
        .exclude(status=SessionStatus.CANCELLED)
        .aggregate(first=Min(Coalesce("actual_start", "scheduled_start")))["first"]
    )
    return start


@dataclass(frozen=True)
class TrendPoint:
    measure: Measure
    is_baseline: bool
    change_from_baseline: int | None
    percent_change: float | None
    is_response: bool | None
    is_remission: bool | None

    @property
    def id(self) -> uuid.UUID:
        return self.measure.id

    @property
    def taken_at(self) -> datetime:
        return self.measure.taken_at

    @property
    def total(self) -> int:
        return self.measure.total

    @property
    def band(self) -> str:
        return self.measure.band


@dataclass(frozen=True)
class Trend:
    instrument: str
    first_dosing_session_at: datetime | None
    baseline: Measure | None
    points: list[TrendPoint]

    @property
    def latest(self) -> TrendPoint | None:
        return self.points[-1] if self.points else None


def _trend_point(
    measure: Measure, *, instrument: str, baseline: Measure | None, course_start: datetime | None
) -> TrendPoint:
    if baseline is None or course_start is None:
        return TrendPoint(measure, False, None, None, None, None)
    is_baseline = measure.pk == baseline.pk
    on_course = measure.taken_at >= course_start
    return TrendPoint(
        measure,
        is_baseline=is_baseline,
        change_from_baseline=measure.total - baseline.total,
        percent_change=measures.percent_change(baseline.total, measure.total),
        # Response and remission describe the course: judged only after it has begun.
        is_response=measures.is_response(baseline.total, measure.total) if on_course else None,
        is_remission=(
            measures.is_remission(instrument, baseline.total, measure.total) if on_course else None
        ),
    )


def measure_trend_for_patient(*, patient: User, instrument: str) -> Trend:
    """The patient's measures of one instrument, oldest first, against the course's
    baseline: the last measure taken before the first dosing session (docs/measures.md)."""
    course_start = first_dosing_start_for_patient(patient=patient)
    rows = list(
        measure_queryset_for_patient(patient=patient)
        .filter(instrument=instrument)
        .order_by("taken_at", "id")
    )
    before = [row for row in rows if course_start is not None and row.taken_at < course_start]
    baseline = before[-1] if before else None
    return Trend(
        instrument=instrument,
        first_dosing_session_at=course_start,
        baseline=baseline,
        points=[
            _trend_point(row, instrument=instrument, baseline=baseline, course_start=course_start)
            for row in rows
        ],
    )
