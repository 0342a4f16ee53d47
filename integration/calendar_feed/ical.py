"""The feed as an iCalendar document (RFC 5545), written by the `icalendar` library.

Times are UTC (`DTSTART:20260302T080000Z`). A session is one instant (journal stores it in
UTC; the patient chose it in their zone, and a 09:00 before a daylight-saving change and a
09:00 after it are two different UTC times, each right), and each calendar app shows it
in its own zone. A VTIMEZONE would add the zone's rules to every feed and help only a
recurring event, which the feed has none of.

What an event says: discreet titles by default ("Appointment", "Afterglow reminder"),
since a calendar is often visible to others, on a lock screen or a shared screen; with
`plain_titles` on, what it is ("Esketamine dosing session", an exercise's title, a
reminder's text). Never journal text (a session's note, an entry's title or words), never
scores, either way: the feed reads no sealed column and no measure.

Change: a session's UID is its row's id, so a moved session moves in the calendar; its
SEQUENCE is its version less one (RFC 5545 starts at 0) plus the revisions of its alarms
and title (`revisions.py`: they change with the plan, not the row), DTSTAMP and
LAST-MODIFIED the later of its `updated_at` and the last of those revisions. A prompt has
no version of its own: its revision is the latest of the times it changed (created, each
step of its delivery, its session's, its plan settings' and the feed settings' last
change), and its SEQUENCE that time in seconds since `SEQUENCE_EPOCH`, which only grows.
The document names no METHOD, so DTSTAMP is the time the item was last revised (RFC 5545
3.8.7.2) and the same data (with the stored revisions) always gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Iterable, Mapping, Sequence

from icalendar import Alarm, Calendar, Event, vDuration

from integration.calendar_feed.reminders import FeedReminder
from integration.calendar_feed.revisions import NO_REVISION, EventRevision
from integration.calendar_feed.selectors import FeedContent
from integration.models import Prompt, PromptStatus
from journal.models import Modality, SessionKind, SessionStatus, TreatmentSession

PRODUCT_ID = "-//Afterglow//Calendar feed 1.0//EN"
CALENDAR_NAME = "Afterglow"
# Calendar apps that honour it (RFC 7986 REFRESH-INTERVAL, and the older X-PUBLISHED-TTL)
# fetch the feed about hourly: well inside the feed's throttle.
REFRESH_INTERVAL = dt.timedelta(hours=1)
# UIDs are `<kind>-<row id>@UID_DOMAIN`. Never change it: every event's UID would change
# with it, and subscribed calendars would show each event twice until they refresh.
UID_DOMAIN = "calendar.afterglow"
SEQUENCE_EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

DISCREET_SESSION_TITLE = "Appointment"
DISCREET_PROMPT_TITLE = "Afterglow reminder"
DISCREET_ALARM_TEXT = "Afterglow reminder"
PROMPT_DESCRIPTION = "Open Afterglow to answer."

# How long a session takes in the calendar: a dosing session in clinic is about 2.5-3 h
# with the monitoring after it (esketamine: at least 2 h, Spravato REMS); preparation and
# integration sessions are therapy hours.
SESSION_LENGTH: dict[str, dt.timedelta] = {
    SessionKind.DOSING: dt.timedelta(hours=3),
    SessionKind.PREPARATION: dt.timedelta(hours=1),
    SessionKind.INTEGRATION: dt.timedelta(hours=1),
}
MINIMUM_PROMPT_LENGTH = dt.timedelta(minutes=5)

PLAIN_SESSION_TITLES: dict[str, str] = {
    SessionKind.PREPARATION: "Preparation session",
    SessionKind.INTEGRATION: "Integration session",
}
PLAIN_DOSING_TITLES: dict[str, str] = {
    Modality.ESKETAMINE_NASAL: "Esketamine dosing session",
    Modality.IV_INFUSION: "Ketamine infusion session",
    Modality.IM_INJECTION: "Ketamine injection session",
    Modality.ORAL_LOZENGE: "Ketamine lozenge session",
}
PLAIN_DOSING_TITLE = "Dosing session"


def session_uid(session_id: uuid.UUID) -> str:
    return f"session-{session_id}@{UID_DOMAIN}"


def prompt_uid(prompt_id: uuid.UUID) -> str:
    return f"prompt-{prompt_id}@{UID_DOMAIN}"


def reminder_uid(reminder: FeedReminder) -> str:
    return f"reminder-{reminder.slug}-{reminder.session_id}@{UID_DOMAIN}"


def session_title(session: TreatmentSession, *, plain: bool) -> str:
    if not plain:
        return DISCREET_SESSION_TITLE
    if session.kind == SessionKind.DOSING:
        return PLAIN_DOSING_TITLES.get(session.modality, PLAIN_DOSING_TITLE)
    return PLAIN_SESSION_TITLES.get(session.kind, DISCREET_SESSION_TITLE)


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(microsecond=0)


def prompt_revised_at(
    prompt: Prompt,
    timeline_updated_at: dt.datetime | None,
    feed_updated_at: dt.datetime | None = None,
) -> dt.datetime:
    """The last time the prompt, as the calendar shows it, may have changed."""
    times = [
        prompt.created_at,
        prompt.session.updated_at,  # its session moved, was cancelled or changed
        prompt.sending_at,
        prompt.sent_at,
        prompt.opened_at,
        prompt.completed_at,
        prompt.skipped_at,
        prompt.expired_at,
        prompt.cancelled_at,
        prompt.answered_late_at,
        timeline_updated_at,  # quiet hours, the plan or its steps changed
        feed_updated_at,  # the titles setting changed (its SUMMARY)
    ]
    return max(moment for moment in times if moment is not None)


def sequence_for(revised_at: dt.datetime) -> int:
    """A SEQUENCE from a revision time: whole seconds since SEQUENCE_EPOCH (fits the
    INTEGER of RFC 5545, 32 bits signed, until 2094)."""
    return max(0, int((revised_at - SEQUENCE_EPOCH).total_seconds()))


def _alarms(
    session: TreatmentSession, reminders: Sequence[FeedReminder], *, plain: bool
) -> list[Alarm]:
    """One alarm per instant: reminders due together (a ride home and a support person,
    a day before) ring once, with all their words when titles are plain."""
    by_instant: dict[dt.datetime, list[FeedReminder]] = {}
    for reminder in sorted(reminders, key=lambda item: (item.at, item.slug)):
        by_instant.setdefault(_utc(reminder.at), []).append(reminder)
    alarms = []
    for at, together in by_instant.items():
        alarm = Alarm()
        alarm.add("uid", reminder_uid(together[0]))  # RFC 9074: clients tell alarms apart
        alarm.add("action", "DISPLAY")
        # Relative to the session's start, so the alarm moves with the session even in a
        # calendar that kept an old copy of the event.
        alarm.add("trigger", at - _utc(session.scheduled_start))
        if plain:
            text = "\n".join(
                f"{item.title}: {item.detail}" if item.detail else item.title for item in together
            )
        else:
            text = DISCREET_ALARM_TEXT
        alarm.add("description", text)
        alarms.append(alarm)
    return alarms


def _session_extras(
    session: TreatmentSession, reminders: Sequence[FeedReminder], *, plain: bool
) -> Event:
    """What a session's event carries beyond its row: its title and its alarms."""
    event = Event()
    event.add("summary", session_title(session, plain=plain))
    if session.status != SessionStatus.CANCELLED:  # a cancelled session reminds of nothing
        for alarm in _alarms(session, reminders, plain=plain):
            event.add_component(alarm)
    return event


def session_extras(content: FeedContent) -> dict[uuid.UUID, Event]:
    """Each session's title and alarms, made once a read for its digest and its event."""
    return {
        session.id: _session_extras(
            session, content.reminders.get(session.id, ()), plain=content.plain_titles
        )
        for session in content.sessions
    }


def session_digests(extras: Mapping[uuid.UUID, Event]) -> dict[uuid.UUID, str]:
    """Each session's digest of its title and alarms: a new one is a revision of its event."""
    return {
        session_id: hashlib.sha256(event.to_ical()).hexdigest()[:32]
        for session_id, event in extras.items()
    }


def session_event(
    session: TreatmentSession,
    reminders: Sequence[FeedReminder],
    *,
    plain: bool,
    revision: EventRevision = NO_REVISION,
    extras: Event | None = None,
) -> Event:
    """`extras`: the session's `_session_extras`, when the read has made them already."""
    start = _utc(session.scheduled_start)
    revised_at = _utc(max(session.updated_at, revision.at or session.updated_at))
    if extras is None:
        extras = _session_extras(session, reminders, plain=plain)
    event = Event()
    event.add("uid", session_uid(session.id))
    event.add("dtstamp", revised_at)
    event.add("last-modified", revised_at)
    event.add("created", _utc(session.created_at))
    event.add("sequence", max(0, session.version - 1) + revision.count)
    event.add("summary", session_title(session, plain=plain))
    event.add("dtstart", start)
    event.add("dtend", start + SESSION_LENGTH.get(session.kind, dt.timedelta(hours=1)))
    event.add("class", "PRIVATE")
    event.add("transp", "OPAQUE")
    cancelled = session.status == SessionStatus.CANCELLED
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    for alarm in extras.subcomponents:
        event.add_component(alarm)
    return event


def prompt_event(
    prompt: Prompt,
    *,
    plain: bool,
    timeline_updated_at: dt.datetime | None,
    feed_updated_at: dt.datetime | None = None,
) -> Event:
    revised_at = _utc(prompt_revised_at(prompt, timeline_updated_at, feed_updated_at))
    start = _utc(prompt.due_at)
    length = max(dt.timedelta(minutes=prompt.exercise.estimated_minutes), MINIMUM_PROMPT_LENGTH)
    event = Event()
    event.add("uid", prompt_uid(prompt.id))
    event.add("dtstamp", revised_at)
    event.add("last-modified", revised_at)
    event.add("created", _utc(prompt.created_at))
    event.add("sequence", sequence_for(revised_at))
    event.add("summary", prompt.exercise.title if plain else DISCREET_PROMPT_TITLE)
    event.add("description", PROMPT_DESCRIPTION)
    event.add("dtstart", start)
    event.add("dtend", start + length)
    event.add("class", "PRIVATE")
    # A prompt is a few minutes' writing whenever suits: it does not make the patient busy.
    event.add("transp", "TRANSPARENT")
    cancelled = prompt.status == PromptStatus.CANCELLED
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    return event


def _calendar(events: Iterable[Event]) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("name", CALENDAR_NAME)
    calendar.add("x-wr-calname", CALENDAR_NAME)
    calendar.add("refresh-interval", REFRESH_INTERVAL, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(REFRESH_INTERVAL))
    for event in events:
        calendar.add_component(event)
    return calendar


def feed_document(
    content: FeedContent,
    revisions: Mapping[uuid.UUID, EventRevision] | None = None,
    extras: Mapping[uuid.UUID, Event] | None = None,
) -> bytes:
    """The feed's iCalendar bytes (CRLF lines, folded at 75 octets by the library), with
    each session's revisions of its alarms and title (`revisions.revise`) and, when the
    read made them for the digests, its `session_extras`."""
    plain = content.plain_titles
    revisions = revisions or {}
    extras = extras or {}
    events = [
        session_event(
            session,
            content.reminders.get(session.id, ()),
            plain=plain,
            revision=revisions.get(session.id, NO_REVISION),
            extras=extras.get(session.id),
        )
        for session in content.sessions
    ]
    events += [
        prompt_event(
            prompt,
            plain=plain,
            timeline_updated_at=content.timeline_updated_at,
            feed_updated_at=content.feed_updated_at,
        )
        for prompt in content.prompts
    ]
    document: bytes = _calendar(events).to_ical()
    return document
