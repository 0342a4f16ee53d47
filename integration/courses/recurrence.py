"""Expanding a course template into session times: RFC 5545 recurrence rules, by
python-dateutil's `rrule`, on the wall clock of the patient's zone.

Rules are expanded over naive local date-times (the wall clock), and only then is each
occurrence resolved to an instant in the patient's zone: so 09:00 stays 09:00 local across
a daylight-saving change, however many weeks the course spans. A wall time that a spring
gap skips becomes the first instant after the gap; one a fold repeats, its first
occurrence (`integration.prompts.scheduling.resolve_wall`).

Pure functions of their arguments: no database, no clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from zoneinfo import ZoneInfo

from dateutil import rrule as rr
from django.core.exceptions import ValidationError

from integration.prompts import scheduling

# RFC 5545 BYDAY codes in week order (Monday first, as Python's weekday()).
WEEKDAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_RRULE_WEEKDAYS = (rr.MO, rr.TU, rr.WE, rr.TH, rr.FR, rr.SA, rr.SU)
# A rule may make at most this many sessions: a bound on what one request writes.
MAX_RULE_COUNT = 60
_ALLOWED_FREQUENCIES = ("DAILY", "WEEKLY")
# The parts a rule may have. Any other (BYMONTH, BYMONTHDAY, BYSETPOS, BYHOUR ...) can
# filter out every day the rule walks, and dateutil then walks day by day to the year
# 9999 (seconds of work) for nothing; a course gives the time of day itself.
_ALLOWED_PARTS = ("FREQ", "COUNT", "INTERVAL", "BYDAY", "WKST")
# Every session of a phase falls within this many days of the course's first session
# day (its start and its rule's span): courses start within a year, so sessions stay
# in the years the API accepts (2000-2100), and a big INTERVAL cannot send them past it.
MAX_COURSE_DAYS = 3 * 366
MAX_INTERVAL = MAX_COURSE_DAYS
# Long before any course: resolve_wall's "not before" when every occurrence is wanted.
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class Phase(Protocol):
    """What expansion reads of a template phase (the model, or a test's stand-in)."""

    @property
    def pk(self) -> int: ...
    @property
    def position(self) -> int: ...
    @property
    def session_kind(self) -> str: ...
    @property
    def rule(self) -> str: ...
    @property
    def starts_after_days(self) -> int: ...
    @property
    def weekdays(self) -> str: ...
    @property
    def is_maintenance(self) -> bool: ...


@dataclass(frozen=True)
class Occurrence:
    """One session of a course: its phase, its wall time in the patient's zone, and the
    instant (UTC) that wall time names."""

    phase: Phase
    wall: dt.datetime
    start: dt.datetime


def _parse(rule: str) -> rr.rrule:
    # DTSTART comes from the course, never from the rule text.
    parsed = rr.rrulestr(rule, dtstart=dt.datetime(2000, 1, 3), forceset=False)
    if not isinstance(parsed, rr.rrule):
        raise ValueError("one RRULE only")
    return parsed


def _parts(text: str) -> dict[str, str]:
    """The RRULE's parts by name ("FREQ=WEEKLY;COUNT=8" -> FREQ, COUNT)."""
    return dict(part.split("=", 1) for part in text.split(";") if "=" in part)


class RuleError(ValueError):
    """A phase a course cannot be expanded from (a rule saved before its checks): its
    one argument says why, as the admin would."""

    def __str__(self) -> str:
        return str(self.args[0])


_SPAN_PROBLEM = (
    f"Every session must fall within {MAX_COURSE_DAYS} days of the course's first: lower "
    "the start, COUNT or INTERVAL."
)
_NO_SESSION_PROBLEM = (
    "On some courses this rule makes fewer sessions than its COUNT (its INTERVAL steps "
    "over the phase's weekdays): use FREQ=WEEKLY, or another INTERVAL or start."
)


def _rule_problem(text: str, weekdays: str) -> str:
    parts = _parts(text)
    count = parts.get("COUNT", "")
    interval = parts.get("INTERVAL", "1")
    if "DTSTART" in text or "UNTIL" in parts:
        return "No DTSTART or UNTIL: the course gives the start, COUNT the length."
    try:
        _parse(text)
    except (ValueError, TypeError):
        return "Not an RFC 5545 RRULE (e.g. FREQ=WEEKLY;COUNT=8)."
    if parts.get("FREQ") not in _ALLOWED_FREQUENCIES:
        return "Only FREQ=DAILY or FREQ=WEEKLY."
    if any(name not in _ALLOWED_PARTS for name in parts):
        return (
            "Use only FREQ, COUNT, INTERVAL and BYDAY (and WKST): other parts can leave "
            "a course without sessions."
        )
    if not count.isdigit() or not 1 <= int(count) <= MAX_RULE_COUNT:
        return f"Give a COUNT from 1 to {MAX_RULE_COUNT}."
    if not interval.isdigit() or not 1 <= int(interval) <= MAX_INTERVAL:
        return f"Give an INTERVAL from 1 to {MAX_INTERVAL}."
    if "BYDAY" in parts and weekdays != "none":
        return "This phase takes the course's weekdays: leave BYDAY out."
    if any(code not in WEEKDAY_CODES for code in parts.get("BYDAY", "MO").split(",")):
        return "BYDAY takes day codes only (MO,TH): no numbers before them."
    return ""


@dataclass(frozen=True)
class _TrialPhase:
    """A phase as the admin form has it, to expand before it is saved."""

    rule: str
    weekdays: str
    starts_after_days: int
    is_maintenance: bool
    pk: int = 0
    position: int = 1
    session_kind: str = "dosing"


# A Monday: trial courses start on each weekday from it.
_TRIAL_MONDAY = dt.date(2001, 1, 1)


def _span_problem(phase: Phase) -> str:
    """Expand the phase for a course whose first session falls on each weekday (one
    chosen weekday: more only add sessions) and, for maintenance, each interval: every
    one must give the rule's COUNT sessions, within MAX_COURSE_DAYS."""
    count = int(_parts(phase.rule.strip().upper())["COUNT"])
    intervals = (1, 2) if phase.is_maintenance else (1,)
    for offset, weeks in ((offset, weeks) for offset in range(7) for weeks in intervals):
        day = _TRIAL_MONDAY + dt.timedelta(days=offset)
        try:
            found = expand(
                [phase],
                start_date=day,
                local_time=dt.time(9),
                weekdays=[day.weekday()],
                zone=ZoneInfo("UTC"),
                maintenance_interval_weeks=weeks,
            )
        except RuleError as error:
            return str(error)
        if len(found) < count:
            return _NO_SESSION_PROBLEM
    return ""


def check_rule(
    rule: str,
    *,
    field: str,
    weekdays: str,
    starts_after_days: int = 0,
    is_maintenance: bool = False,
) -> None:
    """Refuse a rule a course cannot expand (a ValidationError on `field`): not RRULE
    syntax, not daily or weekly, a part other than FREQ, COUNT, INTERVAL, BYDAY and WKST,
    no COUNT (a course is finite) or one above MAX_RULE_COUNT, an INTERVAL above
    MAX_INTERVAL, a DTSTART or UNTIL, a BYDAY where the phase takes the course's
    weekdays; and, with the phase's start and weekdays, a rule that can make fewer
    sessions than its COUNT or any beyond MAX_COURSE_DAYS."""
    text = rule.strip().upper()
    problem = _rule_problem(text, weekdays) or _span_problem(
        _TrialPhase(text, weekdays, starts_after_days, is_maintenance)
    )
    if problem:
        raise ValidationError({field: problem})


def weekday_numbers(codes: Sequence[str]) -> list[int]:
    """BYDAY codes to Python weekday numbers, in week order (codes already checked)."""
    return sorted(WEEKDAY_CODES.index(code) for code in codes)


def first_day(start_date: dt.date, weekdays: Sequence[int]) -> dt.date:
    """The course's first session day: the first of its weekdays on or after the start."""
    for offset in range(7):
        day = start_date + dt.timedelta(days=offset)
        if day.weekday() in weekdays:
            return day
    raise ValueError("no weekdays")


def phase_rule(
    phase: Phase,
    *,
    dtstart: dt.datetime,
    weekdays: Sequence[int],
    first_weekday: int,
    maintenance_interval_weeks: int,
    count: int | None = None,
) -> rr.rrule:
    """The phase's rule from `dtstart` (a naive wall time) with the course's choices in
    it: BYDAY from its weekdays, and for maintenance the interval and, when given, the
    count."""
    text = phase.rule.strip().upper()
    problem = _rule_problem(text, phase.weekdays)
    if problem:
        raise RuleError(problem)
    rule = _parse(text)
    changes: dict[str, object] = {"dtstart": dtstart}
    if phase.weekdays == "all":
        changes["byweekday"] = [_RRULE_WEEKDAYS[day] for day in weekdays]
    elif phase.weekdays == "first":
        changes["byweekday"] = [_RRULE_WEEKDAYS[first_weekday]]
    if phase.is_maintenance:
        days = 7 if _parts(text).get("FREQ") == "DAILY" else 1
        changes["interval"] = maintenance_interval_weeks * days
    if count is not None:
        changes["count"] = count
    return rule.replace(**changes)  # type: ignore[arg-type]


def resolve(wall: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """The instant (UTC) of a wall time in the zone (gap: just after it; fold: the first)."""
    return scheduling.resolve_wall(wall, zone, not_before=_EPOCH)


def expand(
    phases: Sequence[Phase],
    *,
    start_date: dt.date,
    local_time: dt.time,
    weekdays: Sequence[int],
    zone: ZoneInfo,
    maintenance_interval_weeks: int = 1,
) -> list[Occurrence]:
    """Every session of a course, in time order (ties: the phase's position)."""
    day = first_day(start_date, weekdays)
    last = dt.datetime.combine(day + dt.timedelta(days=MAX_COURSE_DAYS), local_time)
    occurrences: list[Occurrence] = []
    for phase in phases:
        if phase.starts_after_days > MAX_COURSE_DAYS:
            raise RuleError(_SPAN_PROBLEM)
        dtstart = dt.datetime.combine(day + dt.timedelta(days=phase.starts_after_days), local_time)
        rule = phase_rule(
            phase,
            dtstart=dtstart,
            weekdays=weekdays,
            first_weekday=day.weekday(),
            maintenance_interval_weeks=maintenance_interval_weeks,
        )
        walls = _walls(rule, dtstart)
        if not walls:
            raise RuleError(_NO_SESSION_PROBLEM)
        if walls[-1] > last:
            raise RuleError(_SPAN_PROBLEM)
        occurrences.extend(Occurrence(phase, wall, resolve(wall, zone)) for wall in walls)
    return sorted(occurrences, key=lambda item: (item.start, item.phase.position))


def _walls(rule: rr.rrule, dtstart: dt.datetime) -> list[dt.datetime]:
    """The rule's wall times, in bounded work. With the parts `_rule_problem` allows,
    every step of a weekly rule has its weekdays, and a daily rule reaches every weekday
    within seven steps unless its interval is whole weeks: then only its start's weekday,
    and with BYDAY without that day it would walk to the year 9999 for nothing."""
    interval: int = getattr(rule, "_interval", 1)
    byweekday: tuple[int, ...] | None = getattr(rule, "_byweekday", None)
    if (
        getattr(rule, "_freq", None) == rr.DAILY
        and interval % 7 == 0
        and byweekday
        and dtstart.weekday() not in byweekday
    ):
        return []
    return list(rule)


def extension(
    phase: Phase,
    *,
    after: dt.datetime,
    not_before: dt.datetime,
    count: int,
    zone: ZoneInfo,
    maintenance_interval_weeks: int,
) -> list[Occurrence]:
    """`count` more sessions of a maintenance phase, continuing its rhythm from the wall
    time `after` (the phase's last session) on the same weekday, none before `not_before`."""
    step = dt.timedelta(weeks=maintenance_interval_weeks)
    dtstart = after + step
    while resolve(dtstart, zone) <= not_before:
        dtstart += step
    rule = phase_rule(
        phase,
        dtstart=dtstart,
        weekdays=[after.weekday()],
        first_weekday=after.weekday(),
        maintenance_interval_weeks=maintenance_interval_weeks,
        count=count,
    )
    walls = _walls(rule, dtstart)
    if not walls:
        raise RuleError(_NO_SESSION_PROBLEM)
    return [Occurrence(phase, wall, resolve(wall, zone)) for wall in walls]


def check_weekdays(codes: Sequence[str], *, low: int, high: int) -> list[str]:
    """The problems with a course's weekdays, as sentences (empty: fine)."""
    if len(set(codes)) != len(codes):
        return ["Name each weekday once."]
    if any(code not in WEEKDAY_CODES for code in codes):
        return ["Use RFC 5545 day codes: " + ", ".join(WEEKDAY_CODES) + "."]
    if not low <= len(codes) <= high:
        if low == high:
            return [f"This course needs exactly {low} weekday(s)."]
        return [f"This course needs {low} to {high} weekdays."]
    return []


__all__ = [
    "MAX_COURSE_DAYS",
    "MAX_RULE_COUNT",
    "WEEKDAY_CODES",
    "Occurrence",
    "Phase",
    "RuleError",
    "check_rule",
    "check_weekdays",
    "expand",
    "extension",
    "first_day",
    "resolve",
    "weekday_numbers",
]
