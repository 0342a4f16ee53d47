"""The key ring in use: patients' data keys, sealing and opening fields, rotation.

`journal.crypto` does the cryptography; this module knows the database. Unwrapped data
keys are kept only in this process's memory (`DataKeyCache`: bounded, expiring), never in
Redis, the database, logs or task messages.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from backend.errors import ProblemError
from backend.problem_codes import ProblemCode
from journal.crypto import (
    LEGACY_TOKEN_PREFIX,
    KeyRing,
    SealedRow,
    SealedValueError,
    SealingKey,
    new_data_key,
    open_in_row,
    seal_in_row,
)
from journal.models import DataKey, Entry, Measure, TreatmentSession


class DataKeyCache:
    """Unwrapped DEKs in this process's memory: a bounded LRU whose entries expire.

    The TTL counts from `put`, not from the last `get`, so a key dropped elsewhere
    (erasure, rotation in another process) leaves this one within `ttl_seconds`.
    Keys are (owner_id, dek_version).
    """

    def __init__(
        self,
        max_entries: int = 1024,
        ttl_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        self._max_entries = max_entries
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        # key -> (expires at, the raw key, its SealingKey once one was asked for)
        self._entries: OrderedDict[tuple[str, int], tuple[float, bytes, SealingKey | None]] = (
            OrderedDict()
        )

    def __repr__(self) -> str:
        return f"DataKeyCache(entries={len(self)}, max_entries={self._max_entries})"

    def get(self, key: tuple[str, int]) -> bytes | None:
        with self._lock:
            entry = self._live(key)
            return None if entry is None else entry[1]

    def sealing_key(self, key: tuple[str, int]) -> SealingKey | None:
        """The entry's key as a `SealingKey`, made once for the entry's life: OpenSSL sets
        up an AES-GCM instance on its first use, which cost more than the encryption of a
        journal entry when every request made its own. It goes with the entry (expiry,
        erasure, rotation), as the raw key does."""
        with self._lock:
            entry = self._live(key)
            if entry is None:
                return None
            expires_at, value, sealing = entry
            if sealing is None:
                sealing = SealingKey(value)
                self._entries[key] = (expires_at, value, sealing)
            return sealing

    def _live(self, key: tuple[str, int]) -> tuple[float, bytes, SealingKey | None] | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self._clock() >= entry[0]:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry

    def put(self, key: tuple[str, int], value: bytes) -> None:
        with self._lock:
            self._entries[key] = (self._clock() + self._ttl, value, None)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def discard_owner(self, owner_id: str) -> None:
        with self._lock:
            for key in [key for key in self._entries if key[0] == owner_id]:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            now = self._clock()
            for key in [key for key, (expires, *_) in self._entries.items() if now >= expires]:
                del self._entries[key]
            return len(self._entries)


security_logger = logging.getLogger("afterglow.security")
# How many just-sealed values a Sealer remembers (a write's response opens them at once).
JUST_SEALED_KEPT = 8

_cache = DataKeyCache(
    max_entries=getattr(settings, "JOURNAL_DEK_CACHE_SIZE", 4096),
    ttl_seconds=getattr(settings, "JOURNAL_DEK_CACHE_SECONDS", 300.0),
)
_ring: KeyRing | None = None
# settings.JOURNAL_ACCEPT_LEGACY_SEALS, read once (every open asks).
_accept_legacy: bool | None = None
# patient id -> (active data key version, monotonic expiry). Lets a write skip the data
# key query when the raw key is cached too. A process may go on sealing under the previous
# key for up to this TTL after a rotation elsewhere, so re-sealing keeps old keys until
# `active_key_grace_seconds()` has passed (see `patient_reseal_batch`).
_active_versions: dict[str, tuple[int, float]] = {}
ACTIVE_VERSION_CACHE_SIZE = 4096
# Beyond two TTLs: a request that read the old active version just before the rotation
# committed, and a transaction still open when its cache entry ran out.
ACTIVE_KEY_GRACE_MARGIN_SECONDS = 60.0

# (model, sealed field names): every sealed column of the journal. Rotation and erasure
# walk this list, so a new sealed field is added here.
SEALED_FIELDS: tuple[tuple[type[models.Model], tuple[str, ...]], ...] = (
    (TreatmentSession, ("note_sealed",)),
    (Entry, ("title_sealed", "content_sealed")),
    (Measure, ("items_sealed",)),
)


def _pk(patient_id: str) -> uuid.UUID:
    return uuid.UUID(patient_id)


def keyring() -> KeyRing:
    global _ring
    if _ring is None:
        _ring = KeyRing.from_settings()
    return _ring


def accept_legacy_seals() -> bool:
    """Whether format-1 tokens (sealed before the row's version was bound) still open: on
    until every row is re-sealed (`legacy_sealed_remaining`), then turned off, so that no
    old token put back can open at all."""
    global _accept_legacy
    if _accept_legacy is None:
        _accept_legacy = bool(getattr(settings, "JOURNAL_ACCEPT_LEGACY_SEALS", True))
    return _accept_legacy


def _reset(**kwargs: Any) -> None:
    global _ring, _accept_legacy
    if kwargs.get("setting") == "JOURNAL_ACCEPT_LEGACY_SEALS":
        _accept_legacy = None
    if kwargs.get("setting") == "JOURNAL_KEKS":
        _ring = None
        _cache.clear()
        _active_versions.clear()
    if kwargs.get("setting") == "JOURNAL_ACTIVE_KEY_CACHE_SECONDS":
        _active_versions.clear()


def _active_version_ttl() -> float:
    return float(getattr(settings, "JOURNAL_ACTIVE_KEY_CACHE_SECONDS", 60.0))


def active_key_grace_seconds() -> float:
    """How long after a rotation some process may still seal under the previous key."""
    ttl = _active_version_ttl()
    return 0.0 if ttl <= 0 else 2 * ttl + ACTIVE_KEY_GRACE_MARGIN_SECONDS


def _remember_active_version(patient_id: str, version: int) -> None:
    ttl = _active_version_ttl()
    if ttl <= 0:
        return
    if len(_active_versions) >= ACTIVE_VERSION_CACHE_SIZE and patient_id not in _active_versions:
        # Oldest insertion first: a bounded map without a lock (the GIL keeps dict ops whole).
        _active_versions.pop(next(iter(_active_versions)), None)
    _active_versions[patient_id] = (version, time.monotonic() + ttl)


def _cached_active_version(patient_id: str) -> int | None:
    found = _active_versions.get(patient_id)
    if found is None:
        return None
    version, expires = found
    if time.monotonic() >= expires:
        _active_versions.pop(patient_id, None)
        return None
    return version


setting_changed.connect(_reset)


def clear_cache() -> None:
    """Forget every unwrapped key in this process (tests, erasure)."""
    _cache.clear()
    _active_versions.clear()


def forget_patient(patient_id: str) -> None:
    _cache.discard_owner(patient_id)
    _active_versions.pop(patient_id, None)


class UnreadableRecordError(ProblemError):
    """A sealed value failed to open: tampered, truncated, moved or its key destroyed."""

    def __init__(self) -> None:
        super().__init__(
            500,
            ProblemCode.SEALED_VALUE_UNREADABLE,
            "A stored record could not be decrypted. It has been reported; nothing of it is shown.",
        )


def data_key_create(*, patient_id: str, version: int = 1) -> DataKey:
    """Make and store a new wrapped DEK as the patient's active one."""
    raw = new_data_key()
    kek_version, wrapped = keyring().wrap_data_key(raw, owner_id=patient_id, dek_version=version)
    with transaction.atomic():
        DataKey.objects.filter(patient_id=_pk(patient_id), is_active=True).update(is_active=False)
        key = DataKey.objects.create(
            patient_id=_pk(patient_id),
            version=version,
            wrapped=wrapped,
            kek_version=kek_version,
            is_active=True,
        )
    _cache.put((patient_id, version), raw)
    # The next seal here reads the active version from the database again.
    _active_versions.pop(patient_id, None)
    return key


@dataclass
class Sealer:
    """Seals and opens one patient's fields, loading their keys at most once.

    Make one per request (or per batch) for the patient whose rows are handled.
    """

    patient_id: str
    # Re-sealing must know the active key for certain, never from a cache.
    trust_cached_version: bool = True
    _active_version: int | None = None
    # The values this sealer sealed last, by token and place (`_just_sealed_key`): the
    # response to a write is built from the row just written, and need not decrypt what it
    # has just encrypted. Bounded, so a sealer kept for a batch holds no more than a few
    # plaintexts.
    _just_sealed: dict[tuple[str, str, str, str, int], str] = field(
        default_factory=dict, repr=False
    )
    # The keys this sealer has used, so that opening a page of rows looks each up once in
    # the process cache rather than once a field (the cache takes a lock and keeps order),
    # and makes each key's AES-GCM instance once.
    _keys: dict[int, SealingKey] = field(default_factory=dict, repr=False)
    # The last row opened: (instance, its id, its version, its SealedRow).
    _last_row: tuple[models.Model, Any, int, SealedRow] | None = field(default=None, repr=False)

    def _load_keys(self) -> None:
        """One query: every data key of the patient into the process cache."""
        for key in DataKey.objects.filter(patient_id=_pk(self.patient_id)):
            if key.is_active:
                self._active_version = key.version
                _remember_active_version(self.patient_id, key.version)
            if _cache.get((self.patient_id, key.version)) is None:
                try:
                    raw = keyring().unwrap_data_key(
                        bytes(key.wrapped), owner_id=self.patient_id, dek_version=key.version
                    )
                except SealedValueError:
                    security_logger.error(
                        "data key failed to unwrap",
                        extra={
                            "event": "journal.data_key_unreadable",
                            "patient_id": self.patient_id,
                            "dek_version": key.version,
                            "kek_version": key.kek_version,
                        },
                    )
                    raise UnreadableRecordError() from None
                _cache.put((self.patient_id, key.version), raw)

    def active_version(self) -> int:
        if self._active_version is None and self.trust_cached_version:
            cached = _cached_active_version(self.patient_id)
            if cached is not None and _cache.get((self.patient_id, cached)) is not None:
                self._active_version = cached  # no query: version and key both in memory
        if self._active_version is None:
            self._load_keys()
        if self._active_version is None:
            try:
                with transaction.atomic():
                    data_key_create(patient_id=self.patient_id)
            except IntegrityError:
                pass  # another request made the first key at the same moment
            self._load_keys()
        if self._active_version is None:
            raise UnreadableRecordError()
        return self._active_version

    def _key(self, version: int) -> SealingKey:
        key = self._keys.get(version)
        if key is not None:
            return key
        key = _cache.sealing_key((self.patient_id, version))
        if key is None:
            self._load_keys()
            key = _cache.sealing_key((self.patient_id, version))
        if key is None:
            raise SealedValueError("no data key of this version")
        self._keys[version] = key
        return key

    def seal(self, instance: models.Model, field: str, text: str) -> str:
        """Seal `text` for `instance.field` under the active key, and record the key's
        version on the row (rotation finds rows under old keys by it).

        The token is bound to `instance.version`: set the version the row will be saved
        with first (a write raises it before sealing)."""
        version = self.active_version()
        if hasattr(instance, "key_version"):
            instance.key_version = version
        row = self._row(instance)
        token = seal_in_row(self._key(version), text, row=row, field=field, key_version=version)
        if len(self._just_sealed) >= JUST_SEALED_KEPT:
            del self._just_sealed[next(iter(self._just_sealed))]
        self._just_sealed[_just_sealed_key(token, field, row)] = text
        return token

    def open(self, instance: models.Model, field: str) -> str:
        token: str = getattr(instance, field)
        if not token and getattr(instance, "deleted_at", None) is not None:
            return ""  # a tombstone keeps no text
        # Only after a write has this sealer sealed anything (a page read skips the look-up,
        # which hashes the whole token).
        row = self._row(instance)
        if self._just_sealed:
            just_sealed = self._just_sealed.get(_just_sealed_key(token, field, row))
            if just_sealed is not None:
                return just_sealed
        try:
            # Every live row's fields are sealed, empty text included: an emptied column is
            # tampering and fails like any other.
            return open_in_row(
                self._key, token, row=row, field=field, accept_legacy=accept_legacy_seals()
            )
        except SealedValueError:
            security_logger.error(
                "sealed value failed to open",
                extra={
                    "event": "journal.sealed_value_unreadable",
                    "table": row.table,
                    "field": field,
                    "row_id": row.row_id,
                    "patient_id": row.owner_id,
                },
            )
            raise UnreadableRecordError() from None

    def _row(self, instance: models.Model) -> SealedRow:
        """The row's part of its fields' associated data, made once for the row's fields
        (opened one after the other) while the row keeps its id and version."""
        pk = instance.pk
        # Every sealed model is a SyncedModel, which has a version.
        version = instance.version  # type: ignore[attr-defined]
        last = self._last_row
        # The instance itself is held, so its identity cannot pass to another object.
        if last is not None and last[0] is instance and last[1] is pk and last[2] == version:
            return last[3]
        row = SealedRow(instance._meta.db_table, str(pk), self.patient_id, version)
        self._last_row = (instance, pk, version, row)
        return row


def _just_sealed_key(token: str, field: str, row: SealedRow) -> tuple[str, str, str, str, int]:
    """A token in its place (the owner is the sealer's): the same token elsewhere is
    decrypted, and fails there."""
    return (token, field, row.table, row.row_id, row.row_version)


def sealer_for(patient: Any) -> Sealer:
    return Sealer(patient_id=str(patient.pk))


# Rotation -------------------------------------------------------------------------------


def kek_rotation_remaining() -> int:
    """Data keys still wrapped under a KEK other than the active one."""
    return DataKey.objects.exclude(kek_version=keyring().active_version).count()


def kek_rotate_batch(*, batch_size: int = 500) -> int:
    """Re-wrap one batch of data keys under the active KEK; returns how many it moved.

    Resumable and idempotent: it only takes keys not yet under the active KEK, skips rows
    another runner holds, and each batch commits on its own.
    """
    ring = keyring()
    with transaction.atomic():
        keys = list(
            DataKey.objects.exclude(kek_version=ring.active_version)
            .select_for_update(skip_locked=True)
            .order_by("id")[:batch_size]
        )
        for key in keys:
            key.kek_version, key.wrapped = ring.rewrap(
                bytes(key.wrapped), owner_id=str(key.patient_id), dek_version=key.version
            )
            key.rewrapped_at = timezone.now()
        DataKey.objects.bulk_update(keys, ["kek_version", "wrapped", "rewrapped_at"])
    return len(keys)


def patient_key_rotate(*, patient_id: str) -> DataKey:
    """Give a patient a new active DEK. Old keys stay until `patient_reseal` is done."""
    with transaction.atomic():
        current = (
            DataKey.objects.select_for_update()
            .filter(patient_id=_pk(patient_id))
            .order_by("-version")
            .first()
        )
        version = 1 if current is None else current.version + 1
        return data_key_create(patient_id=patient_id, version=version)


def _legacy_sealed(fields: tuple[str, ...]) -> models.Q:
    """Rows with a field still sealed in format 1 (not bound to the row's version)."""
    condition = models.Q()
    for field_name in fields:
        condition |= models.Q(**{f"{field_name}__startswith": LEGACY_TOKEN_PREFIX})
    return condition


def _rows_to_reseal(
    model: type[models.Model], fields: tuple[str, ...], patient_id: str, active: int
) -> Any:
    """The patient's rows under an old data key, or with a field in the legacy format."""
    return model._default_manager.filter(patient_id=patient_id).filter(
        ~models.Q(key_version=active) | _legacy_sealed(fields)
    )


def patient_reseal_batch(*, patient_id: str, batch_size: int = 200) -> int:
    """Re-seal one batch of a patient's rows under their active DEK; returns the count.

    Rows stay readable throughout: a row is opened with the key named in its token and
    written back sealed under the new key in one short transaction. Rows with a field
    still in the legacy token format are re-sealed too (in the current format, bound to
    the row's unchanged version), under the same key if it is the active one. When no row is left
    under an old key and the active key is older than `active_key_grace_seconds()` (no
    process can still be sealing under an older one), the old keys are deleted;
    `patient_old_keys_wait` says how long that is off.
    """
    sealer = Sealer(patient_id=patient_id, trust_cached_version=False)
    active = sealer.active_version()
    moved = 0
    for model, fields in SEALED_FIELDS:
        with transaction.atomic():
            rows = list(
                _rows_to_reseal(model, fields, patient_id, active)
                .select_for_update(skip_locked=True)
                .order_by("pk")[: batch_size - moved]
            )
            for row in rows:
                for field in fields:
                    if getattr(row, field):
                        setattr(row, field, sealer.seal(row, field, sealer.open(row, field)))
                setattr(row, "key_version", active)  # noqa: B010 (every sealed model has it)
            if rows:
                model._default_manager.bulk_update(rows, [*fields, "key_version"])
            moved += len(rows)
        if moved >= batch_size:
            return moved
    if moved == 0:
        remaining = sum(
            _rows_to_reseal(model, fields, patient_id, active).count()
            for model, fields in SEALED_FIELDS
        )
        if remaining == 0 and patient_old_keys_wait(patient_id=patient_id) == 0:
            # Only keys older than the one re-sealed to: a rotation meanwhile keeps its own.
            DataKey.objects.filter(
                patient_id=_pk(patient_id), is_active=False, version__lt=active
            ).delete()
    return moved


def patient_old_keys_wait(*, patient_id: str) -> float | None:
    """Seconds until the patient's old data keys may be deleted (0 when they may be now),
    or None when none is left."""
    if not DataKey.objects.filter(patient_id=_pk(patient_id), is_active=False).exists():
        return None
    active = DataKey.objects.filter(patient_id=_pk(patient_id), is_active=True).first()
    if active is None:
        return 0.0
    settles_at = active.created_at + timedelta(seconds=active_key_grace_seconds())
    return max(0.0, (settles_at - timezone.now()).total_seconds())


def _legacy_rows(model: type[models.Model], fields: tuple[str, ...]) -> Any:
    # Only patients who still have a data key: an erased patient's rows can never be
    # opened again, so there is nothing to re-seal (and no key to re-seal under).
    return model._default_manager.filter(_legacy_sealed(fields)).filter(
        patient_id__in=DataKey.objects.values("patient_id")
    )


def legacy_sealed_remaining() -> int:
    """Rows, of every patient who has a data key, with a field still in the legacy token
    format (sealed before the row's version was bound)."""
    return sum(_legacy_rows(model, fields).count() for model, fields in SEALED_FIELDS)


def patients_with_legacy_seals() -> list[str]:
    """The patients with a data key and a row with a field still in the legacy format."""
    found: set[str] = set()
    for model, fields in SEALED_FIELDS:
        rows = _legacy_rows(model, fields).values_list("patient_id", flat=True).distinct()
        found.update(str(patient_id) for patient_id in rows)
    return sorted(found)


def patients_with_old_data_keys() -> Iterator[str]:
    for patient_id in (
        DataKey.objects.filter(is_active=False).values_list("patient_id", flat=True).distinct()
    ):
        yield str(patient_id)


def patient_data_keys_destroy(*, user: Any) -> int:
    """Crypto-shredding: delete every data key of a patient (an account erasure hook).

    Their sealed rows stay where they are and can never be opened again, by anyone.
    """
    deleted, _ = DataKey.objects.filter(patient_id=user.pk).delete()
    forget_patient(str(user.pk))
    return deleted
