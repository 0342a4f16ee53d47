"""What the planning tests share: a Monday of the course, times written as days of March
2026 in UTC, and a dosing session whose prompts are planned at once."""

from __future__ import annotations

import datetime as dt

from integration.prompts.planning import prompts_sync_for_session
from tests.integration.factories import make_session

MONDAY = dt.datetime(2026, 3, 9, 9, 0, tzinfo=dt.UTC)  # 10:00 in Berlin


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=dt.UTC)


def dosing(patient, start: dt.datetime, **fields):
    """A dosing session at `start`, its prompts planned (as journal's session hook does)."""
    session = make_session(patient, start, **fields)
    prompts_sync_for_session(session=session)
    return session
