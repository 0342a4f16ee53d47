"""What the planning tests share: a Monday of the course, times written as days of March
2026 in UTC, a dosing session whose prompts are planned at once, and a change of a session
whose prompts are planned again."""

from __future__ import annotations

import datetime as dt

from integration.prompts.planning import prompts_sync_for_session
from journal.sessions import services
from tests.integration.factories import make_session

MONDAY = dt.datetime(2026, 3, 9, 9, 0, tzinfo=dt.UTC)  # 10:00 in Berlin


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=dt.UTC)


def dosing(patient, start: dt.datetime, **fields):
    """A dosing session at `start`, its prompts planned (as journal's session hook does)."""
    session = make_session(patient, start, **fields)
    prompts_sync_for_session(session=session)
    return session


def update(patient, session, **data):
    """Change a session through journal's session_update, then plan its prompts again (as
    journal's session hook does)."""
    changed = services.session_update(
        patient=patient, session_id=session.pk, data=data, expected_versions=None
    )
    prompts_sync_for_session(session=changed)
    return changed
