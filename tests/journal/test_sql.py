"""journal.sql's statements give the answers of the general (ORM) path, case by case.

Each test runs twice: with the hand-written statements (`fast`) and with
`journal.sql.is_available` off, as on SQLite (`general`).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.exceptions import NotFound

from backend.errors import ProblemError
from journal import records, sql
from journal.entries import selectors, services
from journal.keys import sealer_for
from journal.models import Entry, SyncState
from tests.journal.factories import make_entry, make_patient

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["fast", "general"])
def path(request, monkeypatch) -> str:
    if request.param == "general":
        monkeypatch.setattr(sql, "is_available", lambda: False)
    return str(request.param)


@pytest.fixture
def patient(db):
    return make_patient(email="sql@example.org")


def create(patient, **fields) -> records.Created[Entry]:
    values: dict[str, Any] = {"kind": "note", "title": "t", "body": "b", "tags": ["x"], "mood": 4}
    values.update(fields)
    return services.entry_create(patient=patient, **values)


def columns(entry: Entry) -> dict[str, object]:
    return {field.attname: getattr(entry, field.attname) for field in Entry._meta.concrete_fields}


def test_the_statements_are_postgresql_here() -> None:
    # The suite runs on PostgreSQL, so the `fast` runs below do use journal.sql.
    assert sql.is_available()


def test_a_read_gives_the_row_and_intention_ids_the_orm_gives(patient, path) -> None:
    first, second = make_entry(patient, kind="intention"), make_entry(patient, kind="intention")
    reflection = make_entry(patient, kind="reflection", intention_ids=[second.id, first.id])
    services.entry_delete(patient=patient, entry_id=second.id, expected_versions=None)

    read = selectors.entry_get_for_patient(patient=patient, entry_id=reflection.id)

    stored = Entry.objects.get(pk=reflection.id)
    assert columns(read) == columns(stored)
    # A deleted intention stays linked, as the API documents.
    assert selectors.intention_ids(read) == sorted([first.id, second.id])
    opened = selectors.open_entry(read, sealer=sealer_for(patient))
    assert (opened.title, opened.body, opened.tags) == ("entry title", "entry body", ["tag"])


def test_a_read_answers_not_found_alike(patient, path) -> None:
    other = make_patient(email="other-sql@example.org")
    theirs = make_entry(other)
    deleted = make_entry(patient)
    services.entry_delete(patient=patient, entry_id=deleted.id, expected_versions=None)
    for entry_id in (theirs.id, uuid.uuid4()):
        with pytest.raises(NotFound):
            selectors.entry_get_for_patient(patient=patient, entry_id=entry_id)
    # Their own deleted entry is gone (410), on both paths.
    with pytest.raises(ProblemError) as gone:
        selectors.entry_get_for_patient(patient=patient, entry_id=deleted.id)
    assert (gone.value.status_code, gone.value.problem_code) == (410, "gone")


def test_a_create_stores_what_the_general_path_stores(patient, path) -> None:
    make_entry(patient)  # the patient's change counter exists from the first write on
    before = SyncState.objects.get(patient=patient).last_change
    created = create(patient, id=uuid.uuid4(), title="Evening", body="calm", tags=["walk"])

    assert created.is_new
    stored = Entry.objects.get(pk=created.record.pk)
    assert columns(created.record) == columns(stored)
    assert stored.change == SyncState.objects.get(patient=patient).last_change
    assert stored.change == before + 1
    opened = selectors.open_entry(stored, sealer=sealer_for(patient))
    assert (opened.title, opened.body, opened.tags, opened.mood) == ("Evening", "calm", ["walk"], 4)
    assert opened.intention_ids == []


def test_a_repeated_create_answers_the_first_entry(patient, path) -> None:
    entry_id = uuid.uuid4()
    first = create(patient, id=entry_id)
    again = create(patient, id=entry_id)
    assert first.is_new
    assert not again.is_new
    assert columns(again.record) == columns(first.record)
    assert Entry.objects.filter(pk=entry_id).count() == 1


@pytest.mark.parametrize("holder", ["other content", "deleted", "another patient"])
def test_a_taken_id_is_a_409_and_changes_nothing(patient, path, holder) -> None:
    entry_id = uuid.uuid4()
    owner = make_patient(email="holder@example.org") if holder == "another patient" else patient
    create(owner, id=entry_id, body="first")
    if holder == "deleted":
        services.entry_delete(patient=patient, entry_id=entry_id, expected_versions=None)
    before = columns(Entry.objects.get(pk=entry_id))

    with pytest.raises(ProblemError) as raised:
        create(patient, id=entry_id, body="second" if holder == "other content" else "first")

    assert raised.value.status_code == 409
    assert columns(Entry.objects.get(pk=entry_id)) == before


def test_a_patient_without_a_change_counter_gets_one(patient, path) -> None:
    SyncState.objects.filter(patient=patient).delete()
    created = create(patient)
    assert created.is_new
    assert SyncState.objects.get(patient=patient).last_change == created.record.change


def test_the_fast_create_is_one_statement_that_holds_no_text(patient) -> None:
    make_entry(patient)  # the key, its version and the change counter exist
    with CaptureQueriesContext(connection) as queries:
        create(patient, title="canary-title-7f3", body="canary-body-7f3")
    assert len(queries.captured_queries) == 1
    assert "canary" not in queries.captured_queries[0]["sql"]
