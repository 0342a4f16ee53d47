"""Journal text written through the API is stored only sealed, and never logged."""

from __future__ import annotations

import logging

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db

CANARY = {
    "title": "canary-title-7f3a",
    "body": "canary-body-91c2",
    "tag": "canary-tag-5e0d",
    "note": "canary-note-b84e",
}


def journal_tables() -> list[str]:
    return [name for name in connection.introspection.table_names() if name.startswith("journal_")]


def raw_text_of_journal_tables() -> str:
    """Every column of every row of every journal table, as text, read with plain SQL."""
    parts: list[str] = []
    with connection.cursor() as cursor:
        for table in journal_tables():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, memoryview | bytes):
                        parts.append(bytes(value).decode("latin-1"))
                    else:
                        parts.append(str(value))
    return "\n".join(parts)


def logged_text(records: list[logging.LogRecord]) -> str:
    """Messages, arguments and every extra attribute of the captured records."""
    return "\n".join(f"{record.getMessage()} {record.__dict__!r}" for record in records)


def write_everything_through_the_api(client) -> None:
    session = client.post(
        "/api/v1/sessions/",
        {"kind": "preparation", "scheduled_start": "2030-01-01T10:00:00Z", "note": CANARY["note"]},
    ).json()
    entry = client.post(
        "/api/v1/entries/",
        {
            "kind": "note",
            "session": session["id"],
            "title": CANARY["title"],
            "body": CANARY["body"],
            "tags": [CANARY["tag"]],
        },
        format="json",
    ).json()
    client.patch(
        f"/api/v1/entries/{entry['id']}/",
        {"body": CANARY["body"] + " edited", "version": 1},
        format="json",
    )
    client.patch(
        f"/api/v1/sessions/{session['id']}/",
        {"note": CANARY["note"] + " edited", "version": 1},
        format="json",
    )
    # Failures that carry the text: a stale version answers it back in `current`, a
    # too-long title and an unknown field answer 400. None of it may reach a log.
    stale = client.patch(
        f"/api/v1/entries/{entry['id']}/", {"title": CANARY["title"], "version": 1}
    )
    assert stale.status_code == 412
    too_long = client.post("/api/v1/entries/", {"kind": "note", "title": CANARY["title"] * 20})
    assert too_long.status_code == 400
    assert CANARY["title"] not in too_long.content.decode()
    unknown = client.post("/api/v1/entries/", {"kind": "note", "mood_text": CANARY["body"]})
    assert unknown.status_code == 400
    assert CANARY["body"] not in unknown.content.decode()
    client.get("/api/v1/entries/")
    client.get("/api/v1/sync/")
    client.get(f"/api/v1/sessions/{session['id']}/journal/")


def test_text_is_readable_through_the_api(patient_client) -> None:
    # The other tests only mean something if the canaries really went in.
    write_everything_through_the_api(patient_client)

    entry = patient_client.get("/api/v1/entries/").json()["results"][0]
    session = patient_client.get("/api/v1/sessions/").json()["results"][0]
    assert entry["title"] == CANARY["title"]
    assert entry["body"] == CANARY["body"] + " edited"
    assert entry["tags"] == [CANARY["tag"]]
    assert session["note"] == CANARY["note"] + " edited"


def test_no_journal_table_holds_the_text_in_the_clear(patient_client) -> None:
    write_everything_through_the_api(patient_client)

    stored = raw_text_of_journal_tables()

    assert "journal_entry" in journal_tables()
    assert "journal_treatmentsession" in journal_tables()
    assert "ag2." in stored  # sealed tokens are there
    assert "ag1." not in stored  # and every one is bound to its row's version
    for canary in CANARY.values():
        assert canary not in stored


def test_no_log_record_holds_the_text(patient_client, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django")  # Django sets its own loggers to INFO
    connection.force_debug_cursor = True  # log every SQL statement with its parameters
    try:
        write_everything_through_the_api(patient_client)
    finally:
        connection.force_debug_cursor = False

    logged = logged_text(caplog.records)

    assert "journal_entry" in logged  # the SQL was captured
    for canary in CANARY.values():
        assert canary not in logged


# Measures: the item answers (item 9 included) and the difficulty are sealed; what charts
# and bands need (instrument, total, band, dates) stays in the clear.

MEASURE_ANSWERS = [3, 0, 2, 1, 3, 0, 2, 1, 2]  # item 9: "more than half the days"
MEASURE_CLEAR_COLUMNS = {
    "id",
    "patient_id",
    "version",
    "change",
    "key_version",
    "created_at",
    "updated_at",
    "deleted_at",
    "instrument",
    "total",
    "band",
    "session_id",
    "taken_at",
}


def test_no_measure_item_answer_is_stored_in_the_clear(patient_client) -> None:
    created = patient_client.post(
        "/api/v1/measures/",
        {"instrument": "phq9", "answers": MEASURE_ANSWERS, "difficulty": 2},
        format="json",
    )
    # The positive control: the answers went in, and come back to their owner.
    assert created.status_code == 201
    assert created.json()["safety"] is not None
    read = patient_client.get(f"/api/v1/measures/{created.json()['id']}/").json()
    assert (read["answers"], read["difficulty"], read["total"]) == (MEASURE_ANSWERS, 2, 14)

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM journal_measure")
        names = [column.name for column in cursor.description]
        (row,) = cursor.fetchall()
    stored = dict(zip(names, row, strict=True))

    # Every column that is not one of the documented clear ones holds a sealed token.
    sealed = {name: value for name, value in stored.items() if name not in MEASURE_CLEAR_COLUMNS}
    assert sealed, "the answers must be stored somewhere"
    assert all(isinstance(value, str) and value.startswith("ag2.") for value in sealed.values())
    text = raw_text_of_journal_tables()
    digits = "".join(str(answer) for answer in MEASURE_ANSWERS)
    for form in (str(MEASURE_ANSWERS), ",".join(map(str, MEASURE_ANSWERS)), digits):
        assert form not in text
