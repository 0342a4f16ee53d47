"""Records of other apps in the sync feed: the registry of sync sources.

Journal never imports the apps above it, yet the feed carries their records too (today
integration's prompts). An app that has synced records of its own:

1. gives each row a `change` column and, in the transaction of every write the app shows,
   takes the row's number from the patient's change counter with
   `journal.records.changes_take` (before it locks or writes the row, as journal's own
   writes do), so its rows share the one sequence of change numbers with sessions,
   entries and measures;
2. names a factory of its `SyncSource` in `settings.JOURNAL_SYNC_SOURCES` (checked at
   start-up with the other hook settings). The feed asks each source for the patient's
   changes in the same window of change numbers as its own tables, and the schema takes
   each source's change component into the union of sync records.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from django.conf import settings
from django.utils.module_loading import import_string
from rest_framework import serializers

from backend.accounts.models import User


@dataclass(frozen=True)
class SourceChange:
    """One change of a record of another app, ready to send: `data` is the record as the
    source's serializer shows it (None for a deletion)."""

    type: str
    id: uuid.UUID
    change: int
    deleted: bool
    data: dict[str, Any] | None


class ChangesReader(Protocol):
    def __call__(
        self, *, patient: User, since: int, until: int, limit: int
    ) -> Sequence[SourceChange]:
        """The patient's changes with `since < change <= until`, in change order, at most
        `limit` of them, in a number of queries that does not grow with `limit`."""
        ...


@dataclass(frozen=True)
class SyncSource:
    kind: str  # the discriminator value of its records (`type` of each change)
    serializer: type[serializers.Serializer[Any]]  # its change component, for the schema
    changes: ChangesReader


def push_capable(patient: User) -> bool:
    """Whether a device of the patient takes pushes (settings.JOURNAL_PUSH_CAPABLE_HOOKS,
    each `(*, patient) -> bool`): then the pushes remind, and the app schedules no
    notifications of its own."""
    return any(import_string(path)(patient=patient) for path in settings.JOURNAL_PUSH_CAPABLE_HOOKS)


def sync_sources() -> tuple[SyncSource, ...]:
    """The configured sources, in the order the settings name them."""
    return _sources(tuple(settings.JOURNAL_SYNC_SOURCES))


@cache
def _sources(paths: tuple[str, ...]) -> tuple[SyncSource, ...]:
    factories: list[Callable[[], SyncSource]] = [import_string(path) for path in paths]
    return tuple(factory() for factory in factories)
