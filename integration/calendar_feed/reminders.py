"""The preparation reminders of each dosing session, as the calendar shows them: alarms.

They are the upcoming view's reminders (`integration.ahead`, from the patient's plan);
this module is the feed's one door to them, so the calendar depends only on the fields
it renders (`FeedReminder`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Protocol

from backend.accounts.models import User
from integration.ahead import selectors as ahead
from journal.models import TreatmentSession

# What `reminders_for_sessions` reads of each session besides what the feed shows.
SESSION_FIELDS = ("patient", "actual_start", "deleted_at")


class FeedReminder(Protocol):
    """What the feed reads of a reminder (`integration.ahead.reminders.Reminder`)."""

    @property
    def slug(self) -> str: ...

    @property
    def title(self) -> str: ...

    @property
    def detail(self) -> str: ...

    @property
    def at(self) -> dt.datetime: ...

    @property
    def session_id(self) -> uuid.UUID: ...


def reminders_for_sessions(
    *, patient: User, sessions: Sequence[TreatmentSession]
) -> Mapping[uuid.UUID, Sequence[FeedReminder]]:
    """Each live dosing session's preparation reminders, by session id (cancelled and
    deleted sessions, and other kinds, have none): one query, whatever the number."""
    return ahead.reminders_for_sessions(patient, sessions)
