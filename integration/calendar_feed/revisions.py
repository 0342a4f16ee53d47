"""Revisions of what a session's event carries beyond its row: its alarms (the plan's
preparation reminders) and its title (the feed's `plain_titles`).

A session's row has a version, and its event's SEQUENCE follows it; but its alarms change
with no change to the row (the patient chooses another plan, a clinic edits its plan's
reminders), and RFC 5545 asks for a higher SEQUENCE and a new DTSTAMP for any change a
calendar must take: a calendar that goes by SEQUENCE would otherwise keep the old alarms.
So the feed keeps, per session, a digest of that part of its event
(`CalendarFeed.event_revisions`): a read that finds another digest counts one more
revision, at the time of that read. The same data and the same state give the same bytes,
so a read with nothing changed still answers 304 and every SEQUENCE stays.

Pure: no database, no clock (the read passes its time).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Entries of sessions no longer in the feed are kept (a session moved back into the
# window must not find its SEQUENCE lower) until there are this many.
MAX_ENTRIES = 2000


@dataclass(frozen=True)
class EventRevision:
    """How often a session's alarms or title changed after the feed first served them
    (`count`, added to its SEQUENCE), and when a read first served the latest (`at`)."""

    count: int = 0
    at: dt.datetime | None = None


NO_REVISION = EventRevision()


def revise(
    state: Mapping[str, Any], digests: Mapping[uuid.UUID, str], *, now: dt.datetime
) -> tuple[dict[str, Any], dict[uuid.UUID, EventRevision]]:
    """The new state and each session's revision, from the stored state and the digests
    of this read. A session seen for the first time starts at no revision."""
    new_state: dict[str, Any] = dict(state)
    revisions: dict[uuid.UUID, EventRevision] = {}
    for session_id, digest in digests.items():
        key = str(session_id)
        entry = _entry(state.get(key))
        if entry is None:
            revision = NO_REVISION
        elif entry[0] != digest:
            revision = EventRevision(entry[1].count + 1, now)
        else:
            revision = entry[1]
        new_state[key] = [digest, revision.count, revision.at.isoformat() if revision.at else None]
        revisions[session_id] = revision
    if len(new_state) > MAX_ENTRIES:
        new_state = {str(session_id): new_state[str(session_id)] for session_id in digests}
    return new_state, revisions


def _entry(value: Any) -> tuple[str, EventRevision] | None:
    """A stored entry, [digest, count, ISO time or null]; None for anything else."""
    if not isinstance(value, list) or len(value) != 3:
        return None
    digest, count, at = value
    if not isinstance(digest, str) or not isinstance(count, int) or count < 0:
        return None
    try:
        moment = dt.datetime.fromisoformat(at) if isinstance(at, str) else None
    except ValueError:
        moment = None
    return digest, EventRevision(count, moment)
