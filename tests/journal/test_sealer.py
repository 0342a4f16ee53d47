"""journal.keys.Sealer opens what it has just sealed without decrypting it again, and only
that: the same token in the same place, a few values at most."""

from __future__ import annotations

import uuid

import pytest

from journal import keys
from journal.crypto import open_in_row
from journal.keys import JUST_SEALED_KEPT, Sealer, UnreadableRecordError
from journal.models import Entry
from tests.journal.factories import make_patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def decryptions(monkeypatch) -> list[str]:
    """Every token the sealer actually decrypts."""
    seen: list[str] = []

    def counting(key_for, token, **options):
        seen.append(token)
        return open_in_row(key_for, token, **options)

    monkeypatch.setattr("journal.keys.open_in_row", counting)
    return seen


def new_entry(patient) -> Entry:
    return Entry(id=uuid.uuid4(), patient=patient, kind="note")


def test_a_value_just_sealed_opens_without_decrypting(decryptions) -> None:
    patient = make_patient(email="sealer@example.org")
    sealer = keys.sealer_for(patient)
    entry = new_entry(patient)
    entry.title_sealed = sealer.seal(entry, "title_sealed", "just written")

    assert sealer.open(entry, "title_sealed") == "just written"
    assert decryptions == []
    # Another sealer (another request) decrypts it, and gets the same text.
    assert keys.sealer_for(patient).open(entry, "title_sealed") == "just written"
    assert decryptions == [entry.title_sealed]


def test_the_token_in_another_place_still_fails_closed(decryptions) -> None:
    patient = make_patient(email="sealer-moved@example.org")
    sealer = keys.sealer_for(patient)
    entry, other = new_entry(patient), new_entry(patient)
    entry.title_sealed = sealer.seal(entry, "title_sealed", "bound to its row")

    other.title_sealed = entry.title_sealed  # copied to another row
    with pytest.raises(UnreadableRecordError):
        sealer.open(other, "title_sealed")
    entry.content_sealed = entry.title_sealed  # or to another field of the same row
    with pytest.raises(UnreadableRecordError):
        sealer.open(entry, "content_sealed")
    assert len(decryptions) == 2


def test_only_the_last_few_values_are_kept(decryptions) -> None:
    patient = make_patient(email="sealer-bounded@example.org")
    sealer: Sealer = keys.sealer_for(patient)
    entries = [new_entry(patient) for _ in range(JUST_SEALED_KEPT + 3)]
    for index, entry in enumerate(entries):
        entry.title_sealed = sealer.seal(entry, "title_sealed", f"value {index}")

    assert len(sealer._just_sealed) == JUST_SEALED_KEPT
    assert [sealer.open(entry, "title_sealed") for entry in entries] == [
        f"value {index}" for index in range(len(entries))
    ]
    assert decryptions == [entry.title_sealed for entry in entries[:3]]
