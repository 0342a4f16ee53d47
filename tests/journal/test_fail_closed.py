"""A sealed value that was tampered with, moved or emptied fails closed, logged by ids."""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from journal import keys
from journal.models import Entry, TreatmentSession
from tests.journal.sealed_rows import sealed_entry

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_patients():
    users = get_user_model().objects
    return (
        users.create_user(email="a@example.org", display_name="A", role="patient"),
        users.create_user(email="b@example.org", display_name="B", role="patient"),
    )


def open_title(entry: Entry) -> str:
    fresh = Entry.objects.get(pk=entry.pk)
    return keys.sealer_for(fresh.patient).open(fresh, "title_sealed")


def assert_title_fails_closed(entry: Entry, *, written: str) -> None:
    """Writes `written` over the entry's sealed title with SQL, as anyone with write access
    to the database could; opening the title then fails closed."""
    Entry.objects.filter(pk=entry.pk).update(title_sealed=written)
    with pytest.raises(keys.UnreadableRecordError):
        open_title(entry)


def test_tampered_value_fails_closed_and_logs_ids_only(
    two_patients, caplog: pytest.LogCaptureFixture
) -> None:
    patient, _ = two_patients
    entry = sealed_entry(patient, title="private title words", body="b")
    token = entry.title_sealed
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    Entry.objects.filter(pk=entry.pk).update(title_sealed=flipped)

    with caplog.at_level(logging.ERROR), pytest.raises(keys.UnreadableRecordError):
        open_title(entry)

    record = next(r for r in caplog.records if r.name == "afterglow.security")
    assert record.__dict__["event"] == "journal.sealed_value_unreadable"
    assert record.__dict__["row_id"] == str(entry.pk)
    assert record.__dict__["patient_id"] == str(patient.pk)
    assert "private title words" not in caplog.text
    assert flipped not in caplog.text


@pytest.mark.parametrize("second_owner", [0, 1], ids=["same-patient", "another-patient"])
def test_value_moved_to_another_row_fails_closed(two_patients, second_owner: int) -> None:
    first = sealed_entry(two_patients[0], title="first", body="b")
    second = sealed_entry(two_patients[second_owner], title="second", body="b")
    assert_title_fails_closed(second, written=first.title_sealed)


def test_value_moved_to_another_field_fails_closed(two_patients) -> None:
    patient, _ = two_patients
    entry = sealed_entry(patient, title="title", body="body")
    assert_title_fails_closed(entry, written=entry.content_sealed)


def test_emptied_value_fails_closed_instead_of_reading_as_empty(two_patients) -> None:
    patient, _ = two_patients
    entry = sealed_entry(patient, title="title", body="b")
    assert_title_fails_closed(entry, written="")


def test_destroyed_data_key_fails_closed(two_patients) -> None:
    patient, other = two_patients
    entry = sealed_entry(patient, title="title", body="b")
    kept = sealed_entry(other, title="kept", body="b")
    patient.data_keys.all().delete()
    keys.clear_cache()
    with pytest.raises(keys.UnreadableRecordError):
        open_title(entry)
    assert open_title(kept) == "kept"


def test_an_older_version_put_back_fails_closed(patient_client) -> None:
    """A rollback: the ciphertext of version 1, written back over version 2 with SQL (as
    anyone with write access to the database, or a restored backup, could), must not open
    as if it were the row's current text."""
    created = patient_client.post(
        "/api/v1/entries/", {"kind": "note", "title": "first words", "body": "first body"}
    ).json()
    first = Entry.objects.get(pk=created["id"])
    changed = patient_client.patch(
        f"/api/v1/entries/{first.pk}/", {"title": "second words", "version": 1}, format="json"
    )
    assert changed.status_code == 200
    assert changed.json()["version"] == 2
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE journal_entry SET title_sealed = %s, content_sealed = %s WHERE id = %s",
            [first.title_sealed, first.content_sealed, first.pk],
        )
    keys.clear_cache()

    with pytest.raises(keys.UnreadableRecordError):
        open_title(first)
    response = patient_client.get(f"/api/v1/entries/{first.pk}/")  # the hand-written read
    assert response.status_code == 500
    assert response.json()["code"] == "sealed_value_unreadable"
    assert "first words" not in response.content.decode()


def test_an_older_session_note_put_back_fails_closed(patient_client) -> None:
    created = patient_client.post(
        "/api/v1/sessions/",
        {"kind": "preparation", "scheduled_start": "2030-01-01T10:00:00Z", "note": "before"},
    ).json()
    first = TreatmentSession.objects.get(pk=created["id"])
    changed = patient_client.patch(
        f"/api/v1/sessions/{first.pk}/", {"note": "after", "version": 1}, format="json"
    )
    assert changed.status_code == 200
    TreatmentSession.objects.filter(pk=first.pk).update(note_sealed=first.note_sealed)

    fresh = TreatmentSession.objects.get(pk=first.pk)
    assert fresh.version == 2
    with pytest.raises(keys.UnreadableRecordError):
        keys.sealer_for(fresh.patient).open(fresh, "note_sealed")
