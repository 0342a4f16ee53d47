"""A preparation reminder made real for one dosing session: what the calendar feed and the
upcoming view show. Pure: no database, no clock."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Reminder:
    """One reminder of one dosing session. `at` is aware and in UTC; `title` and `detail`
    are the clinic's plain words (no journal text, no drug name in the shipped ones)."""

    slug: str
    title: str
    detail: str
    at: dt.datetime
    session_id: uuid.UUID


class _Rule(Protocol):
    slug: str
    title: str
    description: str
    offset: dt.timedelta
    duration: dt.timedelta | None


class _Session(Protocol):
    pk: uuid.UUID
    scheduled_start: dt.datetime
    actual_start: dt.datetime | None


def anchor(session: _Session, offset: dt.timedelta) -> dt.datetime:
    """What an offset counts from: the recorded actual start for offsets at or after the
    start (as a plan step's), the scheduled start for those before it."""
    if offset >= dt.timedelta(0) and session.actual_start is not None:
        return session.actual_start
    return session.scheduled_start


def reminder_for(session: _Session, rule: _Rule) -> Reminder:
    at = (anchor(session, rule.offset) + rule.offset).astimezone(dt.UTC)
    return Reminder(
        slug=rule.slug, title=rule.title, detail=rule.description, at=at, session_id=session.pk
    )


def ends_at(reminder: Reminder, duration: dt.timedelta | None) -> dt.datetime | None:
    return reminder.at + duration if duration is not None else None
