"""Due-time arithmetic for prompts: pure functions of instants, zones and quiet hours.

Nothing here reads the database or the clock. Instants are aware datetimes (any zone in,
UTC out); wall times are naive datetimes in the patient's zone.

The one rule behind every function: a prompt is due at the *first instant at or after its
nominal time* that is allowed, where an instant is not allowed when its local wall time is
inside the patient's quiet hours or when it lies in a blocked interval (the quiet period
right after a dosing session). Defined that way, the result is never earlier than the
nominal time, never inside quiet hours, the same when applied twice, and never earlier
for a later nominal time, across DST changes in any zone:

- A wall time that does not exist (the end of quiet hours in a spring-forward gap) is
  reached at the first valid instant after it: the transition itself.
- A wall time that exists twice (a fall-back fold) is reached at its first occurrence that
  is not before the prompt's nominal time: normally the first (fold=0); the second only
  when the prompt's own time is already past the first one.
- A clock that falls back across the end of quiet hours shows waking time again at the
  change itself, so that is when the prompt is due.

The property tests in tests/integration/test_scheduling.py check these over every zone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = dt.UTC

# Settling alternates between quiet hours and blocked intervals until neither moves the
# time. Each round skips at least one quiet period or interval, so a handful suffice; the
# bound only guards against a malformed input looping forever.
_MAX_ROUNDS = 32


@dataclass(frozen=True)
class QuietHours:
    """Local wall times [start, end) when no prompt arrives; the window crosses midnight
    when start > end (21:00-08:00). start == end means no quiet hours at all."""

    start: dt.time
    end: dt.time

    @property
    def length(self) -> dt.timedelta:
        """How long they last by the wall clock (a night's DST change aside)."""
        start = dt.datetime.combine(dt.date.min, self.start)
        end = dt.datetime.combine(dt.date.min, self.end)
        return (end - start) % dt.timedelta(days=1)

    def contains(self, wall: dt.time) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= wall < self.end
        return wall >= self.start or wall < self.end


DEFAULT_QUIET_HOURS = QuietHours(dt.time(21, 0), dt.time(8, 0))


def zone_for(name: str) -> ZoneInfo:
    """The IANA zone of a patient; UTC for a name this machine does not know."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def wall_time(instant: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """The local wall time (naive) of an instant."""
    return instant.astimezone(zone).replace(tzinfo=None)


def local_date(instant: dt.datetime, zone: ZoneInfo) -> dt.date:
    return instant.astimezone(zone).date()


def _exists(wall: dt.datetime, zone: ZoneInfo, fold: int) -> dt.datetime | None:
    """The instant of `wall` read with `fold`, or None when that wall time does not exist."""
    instant = wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)
    return instant if wall_time(instant, zone) == wall else None


def _gap_end(wall: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """The first valid instant after a wall time that falls in a gap: the transition.

    In a gap, fold=1 reads the wall time with the offset after the transition and fold=0
    with the one before (PEP 495), which bracket the transition: the earliest instant whose
    wall time is past `wall` lies between them. Transitions fall on whole seconds.
    """
    low = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    high = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if high < low:
        low, high = high, low
    # Invariant: wall_time(low) <= wall < wall_time(high); search whole seconds.
    lo, hi = 0, int((high - low).total_seconds())
    while lo < hi:
        mid = (lo + hi) // 2
        if wall_time(low + dt.timedelta(seconds=mid), zone) > wall:
            hi = mid
        else:
            lo = mid + 1
    return low + dt.timedelta(seconds=lo)


def resolve_wall(wall: dt.datetime, zone: ZoneInfo, *, not_before: dt.datetime) -> dt.datetime:
    """The instant (UTC) when the clock on the wall in `zone` first shows `wall`, at or
    after `not_before`: the first occurrence in a fold unless that one is already past,
    and the transition itself when `wall` falls in a gap."""
    occurrences = [
        instant for instant in (_exists(wall, zone, 0), _exists(wall, zone, 1)) if instant
    ]
    if not occurrences:
        return max(_gap_end(wall, zone), not_before.astimezone(UTC))
    later = [instant for instant in occurrences if instant >= not_before]
    return min(later) if later else not_before.astimezone(UTC)


def _quiet_end(instant: dt.datetime, zone: ZoneInfo, quiet: QuietHours) -> dt.datetime:
    """Where to look next from `instant`: itself outside quiet hours, else the end of the
    quiet hours it is in, or a clock change before that end."""
    wall = wall_time(instant, zone)
    if not quiet.contains(wall.time()):
        return instant
    end_date = wall.date()
    if quiet.start > quiet.end and wall.time() >= quiet.start:
        end_date += dt.timedelta(days=1)
    end = resolve_wall(dt.datetime.combine(end_date, quiet.end), zone, not_before=instant)
    # The clock changing on the way (a fall-back across the end, say) changes which wall
    # time comes next: stop at the change, and the caller looks again from there.
    change = _first_offset_change(instant, end, zone)
    return change if change is not None else end


def _first_offset_change(
    start: dt.datetime, end: dt.datetime, zone: ZoneInfo
) -> dt.datetime | None:
    """The first instant in (start, end) whose UTC offset differs from start's, if the
    offset at `end` differs (whole seconds; at most one change a night in practice)."""
    offset = start.astimezone(zone).utcoffset()
    if end.astimezone(zone).utcoffset() == offset:
        return None
    lo, hi = 0, int((end - start).total_seconds())
    while lo < hi:
        mid = (lo + hi) // 2
        if (start + dt.timedelta(seconds=mid)).astimezone(zone).utcoffset() != offset:
            hi = mid
        else:
            lo = mid + 1
    change = start + dt.timedelta(seconds=lo)
    return change if change < end else None


def after_quiet_hours(instant: dt.datetime, *, zone: ZoneInfo, quiet: QuietHours) -> dt.datetime:
    """`instant` if its local time is outside quiet hours, else the end of those quiet
    hours (local wall time, then back to UTC).

    The end is checked again: when it falls in a DST gap, the first valid instant after
    it can itself be inside quiet hours (a window of nearly a day), and then the next end
    applies.
    """
    instant = instant.astimezone(UTC)
    for _ in range(_MAX_ROUNDS):
        moved = _quiet_end(instant, zone, quiet)
        if moved == instant:
            return instant
        instant = moved
    return instant


def after_blocked(
    instant: dt.datetime, blocked: Sequence[tuple[dt.datetime, dt.datetime]]
) -> dt.datetime:
    """The first instant at or after `instant` outside every [start, end) interval."""
    instant = instant.astimezone(UTC)
    for _ in range(_MAX_ROUNDS):
        moved = instant
        for start, end in blocked:
            if start <= moved < end:
                moved = end.astimezone(UTC)
        if moved == instant:
            return instant
        instant = moved
    return instant


# What `settle_explained` says moved an instant (the values of integration.models.PromptMove).
MOVED_BY_QUIET_HOURS = "quiet_hours"
MOVED_BY_POST_DOSING = "post_dosing"


def settle(
    instant: dt.datetime,
    *,
    zone: ZoneInfo,
    quiet: QuietHours,
    blocked: Sequence[tuple[dt.datetime, dt.datetime]] = (),
) -> dt.datetime:
    """The first instant at or after `instant` that is neither in quiet hours nor in a
    blocked interval. Applying it to its own result changes nothing."""
    return settle_explained(instant, zone=zone, quiet=quiet, blocked=blocked)[0]


def settle_explained(
    instant: dt.datetime,
    *,
    zone: ZoneInfo,
    quiet: QuietHours,
    blocked: Sequence[tuple[dt.datetime, dt.datetime]] = (),
) -> tuple[dt.datetime, frozenset[str]]:
    """`settle`, and what moved the instant on the way: quiet hours, a blocked interval
    (the post-dosing quiet period), both, or nothing (an empty set)."""
    instant = instant.astimezone(UTC)
    reasons: set[str] = set()
    for _ in range(_MAX_ROUNDS):
        unblocked = after_blocked(instant, blocked)
        if unblocked != instant:
            reasons.add(MOVED_BY_POST_DOSING)
        moved = after_quiet_hours(unblocked, zone=zone, quiet=quiet)
        if moved != unblocked:
            reasons.add(MOVED_BY_QUIET_HOURS)
        if moved == instant:
            break
        instant = moved
    return instant, frozenset(reasons)


def next_day_first_waking(
    instant: dt.datetime,
    *,
    zone: ZoneInfo,
    quiet: QuietHours,
    blocked: Sequence[tuple[dt.datetime, dt.datetime]] = (),
) -> dt.datetime:
    """The first allowed instant of the local day after `instant`'s (the end of the night's
    quiet hours, 08:00 by default)."""
    next_midnight = dt.datetime.combine(local_date(instant, zone) + dt.timedelta(days=1), dt.time())
    start = resolve_wall(next_midnight, zone, not_before=instant)
    return settle(start, zone=zone, quiet=quiet, blocked=blocked)


def post_dosing_blocks(
    starts: Iterable[dt.datetime], *, hours: float
) -> list[tuple[dt.datetime, dt.datetime]]:
    """The quiet period [start, start + hours) after each dosing session's start."""
    length = dt.timedelta(hours=hours)
    if length <= dt.timedelta(0):
        return []
    return sorted((start.astimezone(UTC), start.astimezone(UTC) + length) for start in starts)
