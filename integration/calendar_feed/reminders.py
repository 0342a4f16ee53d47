"""The preparation reminders of each dosing session, as the calendar shows them: alarms.

They are the upcoming view's reminders (`integration.ahead`); this module is the feed's
one door to them, so the calendar depends only on the fields it renders (`FeedReminder`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Protocol

from backend.accounts.models import User
from journal.models import TreatmentSession


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
    """Each session's preparation reminders, by session id (sessions without any left
    out)."""
    return {}
