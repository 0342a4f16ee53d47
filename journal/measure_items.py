"""A measure's item answers: sealed at rest like journal text, opened only for their owner.

The item answers of a PHQ-9 or GAD-7 (item 9 of the PHQ-9 asks about thoughts of death or
self-harm) and the PHQ-9's difficulty question are sealed together, as one value, in
`Measure.items_sealed`, under the patient's data key and bound to the measure's row, field,
owner and version (`journal.keys.Sealer`). The total and band stay in the clear: charts,
trends and the therapist's view need nothing else.

- `seal_items` stores the items of a measure being written and keeps them, as submitted,
  on the instance: the response and the safety path read them without a decryption.
- `open_measure` / `open_measures` open the items of rows read back, for their owner's own
  reads (the API, sync, the exports). Reading `Measure.answers` of a row that was not
  opened raises `MeasureItemsNotOpenedError`: a read path can never show the column raw.

The sealed value is compact JSON, padded with spaces to a multiple of `PAD_TO` characters,
so its length says nothing about the answers (a missing difficulty, say).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from journal import instruments as measures
from journal.keys import Sealer, UnreadableRecordError
from journal.models import Measure, MeasureItems

__all__ = ["FIELD", "PAD_TO", "encode_items", "open_measure", "open_measures", "seal_items"]

FIELD = "items_sealed"
PAD_TO = 64


def encode_items(answers: Sequence[int], difficulty: int | None) -> str:
    """The text that is sealed: `{"answers":[...],"difficulty":...}`, space-padded."""
    text = json.dumps({"answers": list(answers), "difficulty": difficulty}, separators=(",", ":"))
    return text + " " * (-len(text) % PAD_TO)


def _decode_items(text: str, instrument: str) -> MeasureItems:
    """The opened value as `encode_items` wrote it; anything else is as unreadable as a
    value that fails to open (a valid token can only come from this code, so this is
    a bug or a value written by hand)."""
    try:
        value: Any = json.loads(text)
        answers, difficulty = value["answers"], value["difficulty"]
    except (ValueError, KeyError, TypeError):
        raise UnreadableRecordError() from None
    if instrument not in measures.INSTRUMENTS or measures.validate(instrument, answers, difficulty):
        raise UnreadableRecordError()
    return MeasureItems(answers=tuple(answers), difficulty=difficulty)


def seal_items(
    measure: Measure, *, answers: Sequence[int], difficulty: int | None, sealer: Sealer
) -> None:
    """Seal checked answers into `measure.items_sealed` (bound to its id and version, so
    set both first) and keep them on the instance as submitted."""
    measure.items_sealed = sealer.seal(measure, FIELD, encode_items(answers, difficulty))
    measure.opened_items = MeasureItems(answers=tuple(answers), difficulty=difficulty)


def open_measure(measure: Measure, *, sealer: Sealer) -> Measure:
    """The measure with its items opened (`answers`, `difficulty`), for its owner.

    Fails closed like journal text (`UnreadableRecordError`, a security event logged with
    ids only): a value moved from another measure or patient, put back from an earlier
    version, edited or emptied."""
    if measure.opened_items is None:
        if measure.deleted_at is not None and not measure.items_sealed:
            measure.opened_items = MeasureItems(answers=(), difficulty=None)
        else:
            measure.opened_items = _decode_items(sealer.open(measure, FIELD), measure.instrument)
    return measure


def open_measures(rows: Iterable[Measure], *, sealer: Sealer) -> list[Measure]:
    """`open_measure` for each row (one sealer: the patient's keys load once)."""
    return [open_measure(row, sealer=sealer) for row in rows]
