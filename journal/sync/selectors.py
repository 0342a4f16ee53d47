"""The changes of a patient's record after a change number, in change order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from backend.accounts.models import User
from journal.entries.selectors import intention_ids_prefetch
from journal.models import (
    Entry,
    Measure,
    SyncState,
    TreatmentSession,
)
from journal.sync.cursor import resync_required
from journal.sync.sources import SourceChange, sync_sources


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
    changes: list[SyncChange | SourceChange]
    last_change: int
    has_more: bool


def sync_changes_for_patient(*, patient: User, since: int, limit: int) -> SyncPage:
    """The patient's sessions, entries and measures (tombstones included), and the records
    of the configured sync sources (`journal.sync.sources`: prompts), changed after `since`,
    in change order, at most `limit` of them.

    Only changes up to the counter's committed value are read. A change number is taken
    (and the counter row locked) at the start of a write and committed with it, and the
    next writer of the patient waits for that commit before it gets the next number, so
    every number up to the committed counter belongs to a committed row: reading at most up
    to it, across the tables, can never pass over a change that is still to commit. (Two
    plain queries without that bound could: the second may see a later commit the first
    did not.)

    A `since` past the committed counter is no cursor this feed gave the patient (the
    counter only grows, and every cursor is at most its value when it was given): the
    database was restored to an earlier state, or failed over to a replica that lacked the
    last commits. The changes up to the counter would never come, so it answers 410
    `resync_required` rather than an empty page. (A cursor of another account, or of a
    server with another SECRET_KEY, is refused before, by its tag: `journal.sync.cursor`.)
    """
    committed = (
        SyncState.objects.filter(patient=patient).values_list("last_change", flat=True).first()
    ) or 0
    if since > committed:
        raise resync_required()
    window = {"patient": patient, "change__gt": since, "change__lte": committed}
    sessions = list(TreatmentSession.objects.filter(**window).order_by("change")[: limit + 1])
    entries = list(
        Entry.objects.filter(**window)
        .prefetch_related(intention_ids_prefetch())
        .order_by("change")[: limit + 1]
    )
    measure_rows = list(Measure.objects.filter(**window).order_by("change")[: limit + 1])
    others: list[SyncChange | SourceChange] = [
        change
        for source in sync_sources()
        for change in source.changes(patient=patient, since=since, until=committed, limit=limit + 1)
    ]
    ours: list[SyncChange | SourceChange] = [
        *(SyncChange("session", session) for session in sessions),
        *(SyncChange("entry", entry) for entry in entries),
        *(SyncChange("measure", measure) for measure in measure_rows),
    ]
    changes = sorted(ours + others, key=lambda item: item.change)
    page = changes[:limit]
    return SyncPage(
        changes=page,
        last_change=page[-1].change if page else since,
        has_more=len(changes) > limit,
    )
