"""Change numbers for prompts: what every write of a prompt that an app syncs calls.

A prompt carries the patient's change number of its last change that the app sees (its
status, due time, answer window, snooze, answer), taken from journal's change counter
(`journal.records.changes_take`) in the write's own transaction, before the rows are
locked or written: the order every writer of a patient keeps, counter first, so a sync
reader bounded by the committed counter never passes over a prompt committed later
(docs/architecture.md, "Prompts in the sync feed"). A write of many prompts takes its
numbers with one counter update per patient, and gives each row its own number, so a page
of the feed never ends between two rows of one change.

The dispatcher's claims, leases and attempts take no number: they are not the app's.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Mapping

from django.db.models import BigIntegerField, Case, Value, When

from journal.records import changes_take


def prompt_changes_take(
    rows: Iterable[tuple[uuid.UUID, uuid.UUID]], *, locked: Mapping[uuid.UUID, int] | None = None
) -> dict[uuid.UUID, int]:
    """A change number for each prompt of (prompt id, patient id): one counter update per
    patient, in patient order. Call inside `transaction.atomic()`, before the writes
    (`locked`: see `journal.records.changes_take`)."""
    rows = list(rows)
    numbers = changes_take(Counter(patient_id for _, patient_id in rows), locked=locked)
    return {prompt_id: next(numbers[patient_id]) for prompt_id, patient_id in rows}


def change_of(numbers: Mapping[uuid.UUID, int]) -> Case:
    """The `change` column's new value in one UPDATE of the prompts named in `numbers`."""
    return Case(
        *(When(pk=prompt_id, then=Value(number)) for prompt_id, number in numbers.items()),
        output_field=BigIntegerField(),
    )
