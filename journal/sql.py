"""Statements written by hand for the two busiest journal requests, on PostgreSQL.

Reading one entry and writing a new one are what a phone does most. Through the ORM they
take two and five round trips, and compiling those queries costs more than running
them (docs/architecture.md, "Hand-written statements", has the figures). Here each is one
statement, built once per process from the model's own metadata (tables, columns, field
conversions), so a field added to `Entry` is carried without a change here:

- `live_entry_with_intention_ids`: the row and the sorted ids of its intentions, in one
  SELECT with an ARRAY subquery;
- `insert_entry_with_next_change`: takes the patient's next change number and inserts the
  row in one statement (a data-modifying WITH), atomic on its own, so it needs neither a
  transaction block nor a savepoint.

Anything unusual (a taken id, no change counter yet) makes `insert_entry_with_next_change`
answer False, and the caller takes the general path, which knows every case. Other
databases (SQLite for `make run`) have no such statements: `is_available()` is False and
callers use the ORM. tests/journal/test_sql.py holds both paths to the same answers.
"""

from __future__ import annotations

import uuid
from functools import cache
from typing import Any, cast

from django.db import connection
from django.db.models import Field, ManyToManyField, Model

from backend.sql import column_list, instance, is_available, quoted
from journal.models import Entry, SyncState

__all__ = ["insert_entry_with_next_change", "is_available", "live_entry_with_intention_ids"]


@cache
def _entry_select() -> str:
    quote = connection.ops.quote_name
    links = cast("ManyToManyField[Entry, Any]", Entry._meta.get_field("intentions"))
    through = quote(cast(type[Model], links.remote_field.through)._meta.db_table)
    columns = column_list(Entry, "e")
    entry_id = quoted(Entry, "id")
    return (
        f"SELECT {columns}, ARRAY("  # noqa: S608 (names from the model, never input)
        f"SELECT l.{quote(links.m2m_reverse_name())} FROM {through} l "
        f"WHERE l.{quote(links.m2m_column_name())} = e.{entry_id}) "
        f"FROM {quote(Entry._meta.db_table)} e "
        f"WHERE e.{entry_id} = %s AND e.{quoted(Entry, 'patient')} = %s "
        f"AND e.{quoted(Entry, 'deleted_at')} IS NULL"
    )


def live_entry_with_intention_ids(*, patient_id: uuid.UUID, entry_id: uuid.UUID) -> Entry | None:
    """The patient's live entry, `loaded_intention_ids` set; None when there is none."""
    with connection.cursor() as cursor:
        cursor.execute(_entry_select(), [entry_id, patient_id])
        row = cursor.fetchone()
    if row is None:
        return None
    entry = instance(Entry, row[:-1])
    entry.loaded_intention_ids = sorted(row[-1])
    return entry


@cache
def _entry_insert() -> str:
    quote = connection.ops.quote_name
    fields = Entry._meta.concrete_fields
    columns = ", ".join(quote(str(field.column)) for field in fields)
    values = ", ".join("next.last_change" if f.attname == "change" else "%s" for f in fields)
    return (
        f"WITH next AS (UPDATE {quote(SyncState._meta.db_table)} "  # noqa: S608 (names only)
        f"SET last_change = last_change + 1 WHERE {quoted(SyncState, 'patient')} = %s "
        f"RETURNING last_change) "
        f"INSERT INTO {quote(Entry._meta.db_table)} ({columns}) SELECT {values} FROM next "
        f"ON CONFLICT ({quoted(Entry, 'id')}) DO NOTHING "
        f"RETURNING {quoted(Entry, 'change')}"
    )


def insert_entry_with_next_change(entry: Entry) -> bool:
    """Insert a new entry (every field set but `change`) under the patient's next change
    number. False when nothing was written: its id is taken, or the patient has no
    counter row yet (the number may then be used up: sync does not mind gaps)."""
    counter_owner = cast("Field[Any, Any]", SyncState._meta.get_field("patient"))
    params = [counter_owner.get_db_prep_value(entry.patient_id, connection)]
    params += [
        field.get_db_prep_save(field.pre_save(entry, add=True), connection)
        for field in Entry._meta.concrete_fields
        if field.attname != "change"
    ]
    with connection.cursor() as cursor:
        cursor.execute(_entry_insert(), params)
        row = cursor.fetchone()
    if row is None:
        return False
    entry.change = row[0]
    entry._state.adding = False
    entry._state.db = connection.alias
    return True
