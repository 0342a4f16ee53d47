"""Property tests of the feed's events (no database): whatever the zone a session was
booked in, daylight-saving changes included, its event starts at its UTC instant, a move
by any amount moves the event and its alarms' times by exactly that amount, and the
document keeps the rules of RFC 5545."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo

import icalendar
from hypothesis import given, settings
from hypothesis import strategies as st

from integration.ahead.reminders import Reminder
from integration.calendar_feed.ical import feed_document, session_event
from integration.calendar_feed.selectors import FeedContent
from journal.models import SessionKind, TreatmentSession
from tests.integration.calendar_feed_data import rfc5545_violations, utc

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Havana", "UTC"]

local_times = st.datetimes(
    min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2028, 12, 31)
).map(lambda moment: moment.replace(microsecond=0))
zones = st.sampled_from(ZONES).map(zoneinfo.ZoneInfo)
offsets = st.lists(
    st.integers(min_value=-7 * 24 * 60, max_value=7 * 24 * 60).map(
        lambda minutes: dt.timedelta(minutes=minutes)
    ),
    max_size=6,
)
moves = st.integers(min_value=-60 * 24 * 60, max_value=60 * 24 * 60).map(
    lambda minutes: dt.timedelta(minutes=minutes)
)


def session_at(start: dt.datetime, *, version: int = 1) -> TreatmentSession:
    """A session as the database gives it back: its start an instant, in UTC (a zone's
    wall-clock arithmetic, which Python does on aware times, plays no part)."""
    return TreatmentSession(
        id=uuid.UUID(int=7),
        kind=SessionKind.DOSING,
        modality="esketamine_nasal",
        scheduled_start=start.astimezone(dt.UTC),
        status="scheduled",
        version=version,
        created_at=dt.datetime(2025, 12, 1, tzinfo=dt.UTC),
        updated_at=dt.datetime(2025, 12, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=version),
    )


def reminders_for(session: TreatmentSession, offsets: list[dt.timedelta]) -> list[Reminder]:
    return [
        Reminder(f"r{index}", "Title", "Detail", session.scheduled_start + offset, session.id)
        for index, offset in enumerate(offsets)
    ]


def alarm_times(event: icalendar.Component) -> list[dt.datetime]:
    start = utc(event, "DTSTART")
    return sorted(start + alarm.decoded("TRIGGER") for alarm in event.walk("VALARM"))


@settings(max_examples=200, deadline=None)
@given(local=local_times, zone=zones, offsets=offsets, plain=st.booleans())
def test_a_session_starts_at_its_utc_instant_in_any_zone(local, zone, offsets, plain):
    start = local.replace(tzinfo=zone)
    session = session_at(start)

    event = session_event(session, reminders_for(session, offsets), plain=plain)

    assert utc(event, "DTSTART") == start.astimezone(dt.UTC)
    assert utc(event, "DTSTART").astimezone(zone) == start.astimezone(zone)
    assert alarm_times(event) == sorted({start.astimezone(dt.UTC) + offset for offset in offsets})


@settings(max_examples=200, deadline=None)
@given(local=local_times, zone=zones, offsets=offsets, move=moves)
def test_a_move_moves_the_event_and_its_alarms_by_exactly_the_move(local, zone, offsets, move):
    before = session_at(local.replace(tzinfo=zone))
    after = session_at(before.scheduled_start + move, version=2)

    old = session_event(before, reminders_for(before, offsets), plain=False)
    new = session_event(after, reminders_for(after, offsets), plain=False)

    assert new["UID"] == old["UID"]
    assert utc(new, "DTSTART") - utc(old, "DTSTART") == move
    assert utc(new, "DTEND") - utc(old, "DTEND") == move
    assert [time - move for time in alarm_times(new)] == alarm_times(old)
    assert new.decoded("SEQUENCE") > old.decoded("SEQUENCE")


@settings(max_examples=50, deadline=None)
@given(
    starts=st.lists(st.tuples(local_times, zones), min_size=1, max_size=8),
    offsets=offsets,
    plain=st.booleans(),
)
def test_any_feed_keeps_the_rules_of_rfc_5545(starts, offsets, plain):
    sessions = []
    for index, (local, zone) in enumerate(starts):
        session = session_at(local.replace(tzinfo=zone))
        session.id = uuid.UUID(int=index + 1)
        sessions.append(session)
    content = FeedContent(
        patient=None,  # type: ignore[arg-type]
        plain_titles=plain,
        sessions=sessions,
        reminders={session.id: reminders_for(session, offsets) for session in sessions},
        prompts=[],
        timeline_updated_at=None,
    )

    assert rfc5545_violations(feed_document(content)) == []
