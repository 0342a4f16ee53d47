"""The write path every synced record shares: change numbers, versions, repeats.

Every write of a patient's record takes the next number from that patient's change counter
(`next_change`) inside its transaction, before it touches any row. The counter row stays
locked until commit, which does two things: a patient's writes run one at a time (so row
locks taken afterwards are never contended by another API write, and cannot deadlock), and
change numbers commit in counter order, which is what lets a sync cursor never skip one.

Free text is sealed (`journal.keys.Sealer`) before it reaches a model field; the plaintext
lives only in the request that sent it. Whenever a row is written, all its sealed fields are
sealed again under the active data key, so a row's `key_version` always names the key of
every field (rotation finds rows under old keys by it).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from django.db import IntegrityError, connection, transaction
from django.db.models import BigIntegerField, Case, F, Model, Value, When
from django.utils import timezone

from backend import sql
from backend.accounts.models import User
from backend.errors import ProblemError
from backend.problem_codes import ProblemCode
from journal.models import (
    Entry,
    Measure,
    SyncState,
    TreatmentSession,
)

RecordT = TypeVar("RecordT", TreatmentSession, Entry, Measure)


@dataclass(frozen=True)
class Created(Generic[RecordT]):
    """The outcome of a create: the record, and whether this call made it (False when it
    repeats an earlier create with the same id and the same content)."""

    record: RecordT
    is_new: bool


class VersionConflictError(Exception):
    """The caller's version is not the current one; `current` is the row as it is now."""

    def __init__(self, current: TreatmentSession | Entry) -> None:
        super().__init__("version conflict")
        self.current = current


def id_conflict() -> ProblemError:
    # The same answer whether the id belongs to another of this patient's records, a deleted
    # one, or another patient's: ids are random UUIDs (122 random bits), so nobody can guess
    # one to probe with, and this answer says nothing about whose it is.
    return ProblemError(
        409,
        ProblemCode.ID_CONFLICT,
        "This id is already used by a different record. Send the same content to repeat "
        "a create, or choose a new random UUID.",
    )


def next_change(patient: User) -> int:
    """Take the patient's next change number. Call inside `transaction.atomic()`.

    The UPDATE locks the patient's counter row until the transaction ends, so a second
    writer for this patient waits here and gets a higher number only after this one has
    committed (or rolled back, giving the number back).
    """
    return _advance(patient.pk, 1)


def _advance(patient_id: uuid.UUID, count: int) -> int:
    """Add `count` to the patient's counter (locking its row) and return the new value."""
    # One statement that both takes the number and reads it (PostgreSQL, and SQLite since
    # 3.35, have UPDATE ... RETURNING); the ORM's update() returns only a row count.
    owner = SyncState._meta.get_field("patient")
    quote = connection.ops.quote_name
    sql = (
        f"UPDATE {quote(SyncState._meta.db_table)} SET last_change = last_change + %s "  # noqa: S608 (names only)
        f"WHERE {quote(owner.column)} = %s RETURNING last_change"
    )
    # The id as this database stores it (a UUID on PostgreSQL, hex text on SQLite).
    stored_id = owner.target_field.get_db_prep_value(patient_id, connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, [count, stored_id])
        row = cursor.fetchone()
        if row is None:
            SyncState.objects.get_or_create(patient_id=patient_id)
            cursor.execute(sql, [count, stored_id])
            row = cursor.fetchone()
    return int(row[0])


def changes_lock(patient_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Lock the change counters of these patients until commit, in patient id order, and
    return their values. Call inside `transaction.atomic()`, before any row of theirs is
    locked or written (the order every writer keeps: counter first, then rows).

    The id order is what lets writers that touch many patients at once (the expiry sweep,
    a batch of deliveries) run beside each other and beside single-patient writes without
    deadlocking. A missing counter row is made first.
    """
    wanted = sorted(set(patient_ids))
    if not wanted:
        return {}

    def locked() -> dict[uuid.UUID, int]:
        if sql.is_available():
            # By hand, one array for the ids: the ORM's IN list of a batch's patients cost
            # about 20 ms of Python for 200 of them.
            patient = sql.quoted(SyncState, "patient")
            statement = (
                f"SELECT {patient}, {sql.quoted(SyncState, 'last_change')} "  # noqa: S608 (names only)
                f"FROM {connection.ops.quote_name(SyncState._meta.db_table)} "
                f"WHERE {patient} = ANY(%s::uuid[]) ORDER BY {patient} FOR UPDATE"
            )
            with connection.cursor() as cursor:
                cursor.execute(statement, [wanted])
                return dict(cursor.fetchall())
        rows = (
            SyncState.objects.select_for_update()
            .filter(patient_id__in=wanted)
            .order_by("patient_id")
            .values_list("patient_id", "last_change")
        )
        return dict(rows)

    found = locked()
    if len(found) < len(wanted):
        SyncState.objects.bulk_create(
            [SyncState(patient_id=pk) for pk in wanted if pk not in found],
            ignore_conflicts=True,
        )
        found = locked()
    return found


def changes_take(
    counts: Mapping[uuid.UUID, int], *, locked: Mapping[uuid.UUID, int] | None = None
) -> dict[uuid.UUID, Iterator[int]]:
    """Take `count` consecutive change numbers for each patient, with one counter update
    per patient however many rows the numbers are for; returns each patient's numbers in
    order. Call inside `transaction.atomic()`, before the rows are locked or written.

    This is the change-counter service of other apps' synced records (integration's
    prompts): a write of many rows takes its numbers in one go, then gives each row its
    own. A number left unused (the row changed meanwhile and was left alone) is a gap,
    which sync does not mind. Numbers are taken under the counter's lock, held until
    commit, so they commit in counter order as `next_change`'s do. `locked`: what
    `changes_lock` answered earlier in this transaction for these patients (their counters
    are still locked and unchanged), to save locking them again.
    """
    wanted = {pk: count for pk, count in counts.items() if count > 0}
    if not wanted:
        return {}
    if len(wanted) == 1 and locked is None:
        ((pk, count),) = wanted.items()
        last = _advance(pk, count)
        return {pk: iter(range(last - count + 1, last + 1))}
    current = locked if locked is not None and set(wanted) <= set(locked) else changes_lock(wanted)
    _counters_set({pk: current[pk] + count for pk, count in wanted.items()})
    return {
        pk: iter(range(current[pk] + 1, current[pk] + count + 1)) for pk, count in wanted.items()
    }


def _counters_set(values: Mapping[uuid.UUID, int]) -> None:
    """Set each patient's counter (rows locked by the caller) in one statement. On
    PostgreSQL it is written by hand, one array per column: the ORM's CASE with a WHEN per
    patient cost about 100 ms of Python to build for a batch of 200 patients, more than the
    pushes of the batch (docs/operations.md, "Pushes a second"). SQLite takes the CASE."""
    if sql.is_available():
        quote = connection.ops.quote_name
        statement = (
            f"UPDATE {quote(SyncState._meta.db_table)} AS s "  # noqa: S608 (names only)
            f"SET {sql.quoted(SyncState, 'last_change')} = v.last_change "
            "FROM unnest(%s::uuid[], %s::bigint[]) AS v(patient_id, last_change) "
            f"WHERE s.{sql.quoted(SyncState, 'patient')} = v.patient_id"
        )
        with connection.cursor() as cursor:
            cursor.execute(statement, [list(values), list(values.values())])
        return
    SyncState.objects.filter(patient_id__in=list(values)).update(
        last_change=Case(
            *(When(patient_id=pk, then=Value(value)) for pk, value in values.items()),
            default=F("last_change"),
            output_field=BigIntegerField(),
        )
    )


def check_version(row: TreatmentSession | Entry, expected_versions: Collection[int] | None) -> None:
    """`expected_versions` None means any version will do (no precondition, or `*`)."""
    if expected_versions is not None and row.version not in expected_versions:
        raise VersionConflictError(row)


def mark_changed(row: TreatmentSession | Entry, change: int) -> None:
    row.change = change
    row.version += 1
    row.updated_at = timezone.now()


def insert_new(row: Model) -> None:
    """Insert a row whose id the client may have chosen; a taken id is a 409."""
    try:
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError:
        raise id_conflict() from None


def repeat_of(
    model: type[RecordT],
    record_id: uuid.UUID,
    patient: User,
    *,
    values: Mapping[str, Any],
    stored: Callable[[RecordT], Mapping[str, Any]],
) -> RecordT | None:
    """The record a repeated create names, or None when the id is free.

    A repeat is the patient's live record with this id whose content (`stored(record)`, in
    the terms of the create's `values`) is the same. Any other holder of the id (a deleted
    record, another patient's, one with other content) is a 409.
    """
    existing = model._default_manager.filter(pk=record_id).first()
    if existing is None:
        return None
    if existing.patient_id != patient.pk or existing.deleted_at is not None:
        raise id_conflict()
    if stored(existing) != values:
        raise id_conflict()
    return existing


def create_once(
    patient: User,
    row: RecordT,
    *,
    repeat: Callable[[uuid.UUID], RecordT | None],
    check: Callable[[], None] | None = None,
) -> Created[RecordT]:
    """Insert a new record (inside a transaction): the patient's next change number first,
    then `check` (the rules that must hold under the patient's write lock, such as a link
    to a record that could otherwise be deleted meanwhile), then the insert. An id taken
    meanwhile answers `repeat(id)`: another request of the patient's made the record while
    this one waited for the counter (the number taken here is left unused: sync does not
    mind gaps), or it is a 409."""
    row.change = next_change(patient)
    if check is not None:
        check()
    try:
        insert_new(row)
    except ProblemError:
        existing = repeat(row.pk)
        if existing is None:
            raise
        return Created(existing, is_new=False)
    return Created(row, is_new=True)


RowT = TypeVar("RowT", TreatmentSession, Entry)


def lock_for_change(
    patient: User, lock: Callable[[], RowT], expected_versions: Collection[int] | None
) -> tuple[int, RowT]:
    """How every change to a record starts, inside its transaction: the patient's next
    change number first (it serializes the patient's writes), then the row locked, then
    its version checked against the client's precondition."""
    change = next_change(patient)
    row = lock()
    check_version(row, expected_versions)
    return change, row


def tombstone(row: RowT, change: int, **cleared: Any) -> None:
    """Leave a tombstone: the fields given are cleared (the text goes); the id, kind and
    times stay, so sync reports the record as deleted."""
    for name, value in cleared.items():
        setattr(row, name, value)
    row.deleted_at = timezone.now()
    mark_changed(row, change)
    row.save()


# How far ahead of the server's clock a client's time of writing may be: a phone's clock
# drifts, and a few minutes must not cost a patient their words.
WRITTEN_AT_MAX_AHEAD = timedelta(minutes=5)


def check_written_at(
    patient: User, written_at: datetime | None, errors: dict[str, list[str]]
) -> None:
    """A client's time of writing is kept only within what could be true: not after now
    (beyond a small skew) and not before the account existed."""
    if written_at is None:
        return
    if written_at > timezone.now() + WRITTEN_AT_MAX_AHEAD:
        errors["written_at"] = ["The time of writing is in the future: check the clock."]
    elif written_at < patient.created_at - WRITTEN_AT_MAX_AHEAD:
        errors["written_at"] = ["The time of writing is before this account existed."]


def delete_once(
    patient: User,
    *,
    lock: Callable[[], RowT],
    find_tombstone: Callable[[], RowT | None],
    expected_versions: Collection[int] | None,
    delete: Callable[[RowT, int], None],
) -> RowT:
    """A delete that answers a repeat as it answered the first (inside a transaction): a
    record already deleted answers its tombstone, unchanged and without a version check
    (the repeat carries the version the first delete was based on). The check runs under
    the patient's change counter, so two deletes racing answer alike too."""
    change = next_change(patient)
    existing = find_tombstone()
    if existing is not None:
        return existing  # the change number is left unused: sync does not mind gaps
    row = lock()
    check_version(row, expected_versions)
    delete(row, change)
    return row
