"""Due-time arithmetic: quiet hours in the patient's zone, DST gaps and folds, blocked
intervals after dosing. Examples first, then properties over every zone."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from functools import cache

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from integration.prompts.scheduling import (
    QuietHours,
    after_quiet_hours,
    local_date,
    next_day_first_waking,
    post_dosing_blocks,
    resolve_wall,
    settle,
    wall_time,
    zone_for,
)
from integration.prompts.timeline import MAX_QUIET_HOURS

UTC = dt.UTC
NIGHT = QuietHours(dt.time(21, 0), dt.time(8, 0))
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
LORD_HOWE = zoneinfo.ZoneInfo("Australia/Lord_Howe")


def utc(year: int, month: int, day: int, hour: int, minute: int = 0, second: int = 0):
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# Examples -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quiet", "wall", "expected"),
    [
        (NIGHT, dt.time(20, 59), False),
        (NIGHT, dt.time(21, 0), True),
        (NIGHT, dt.time(3, 0), True),
        (NIGHT, dt.time(7, 59), True),
        (NIGHT, dt.time(8, 0), False),
        (QuietHours(dt.time(13, 0), dt.time(15, 0)), dt.time(14, 0), True),
        (QuietHours(dt.time(13, 0), dt.time(15, 0)), dt.time(15, 0), False),
        (QuietHours(dt.time(22, 0), dt.time(22, 0)), dt.time(22, 0), False),
    ],
)
def test_quiet_hours_contain_their_start_not_their_end(quiet, wall, expected) -> None:
    assert quiet.contains(wall) is expected


def test_a_prompt_at_night_moves_to_the_morning_in_the_patients_zone() -> None:
    # 22:30 in Berlin (CET) is 21:30 UTC: due at 08:00 Berlin the next day, 07:00 UTC.
    assert after_quiet_hours(utc(2026, 3, 2, 21, 30), zone=BERLIN, quiet=NIGHT) == utc(
        2026, 3, 3, 7, 0
    )
    # 03:00 in Berlin: the same morning.
    assert after_quiet_hours(utc(2026, 3, 3, 2, 0), zone=BERLIN, quiet=NIGHT) == utc(
        2026, 3, 3, 7, 0
    )
    # Outside quiet hours nothing moves.
    assert after_quiet_hours(utc(2026, 3, 3, 12, 0), zone=BERLIN, quiet=NIGHT) == utc(
        2026, 3, 3, 12, 0
    )


def test_the_morning_after_the_spring_change_is_in_summer_time() -> None:
    # Berlin springs forward on 2026-03-29: 08:00 that morning is 06:00 UTC (CEST).
    assert after_quiet_hours(utc(2026, 3, 28, 21, 0), zone=BERLIN, quiet=NIGHT) == utc(
        2026, 3, 29, 6, 0
    )


def test_an_end_in_the_dst_gap_moves_to_the_first_valid_instant() -> None:
    # New York, 2026-03-08: 02:00 EST jumps to 03:00 EDT (07:00 UTC); 02:30 does not exist.
    quiet = QuietHours(dt.time(1, 0), dt.time(2, 30))
    at_0145_est = utc(2026, 3, 8, 6, 45)
    assert after_quiet_hours(at_0145_est, zone=NEW_YORK, quiet=quiet) == utc(2026, 3, 8, 7, 0)
    assert wall_time(utc(2026, 3, 8, 7, 0), NEW_YORK) == dt.datetime(2026, 3, 8, 3, 0)


def test_an_end_in_the_fold_is_its_first_occurrence_not_before_the_prompt() -> None:
    # New York, 2026-11-01: 02:00 EDT falls back to 01:00 EST; 01:30 happens twice
    # (05:30 and 06:30 UTC).
    quiet = QuietHours(dt.time(0, 0), dt.time(1, 30))
    at_0030_edt = utc(2026, 11, 1, 4, 30)
    assert after_quiet_hours(at_0030_edt, zone=NEW_YORK, quiet=quiet) == utc(2026, 11, 1, 5, 30)
    # Once the clock has gone back, 01:10 EST is quiet again and moves to the second 01:30.
    at_0110_est = utc(2026, 11, 1, 6, 10)
    assert after_quiet_hours(at_0110_est, zone=NEW_YORK, quiet=quiet) == utc(2026, 11, 1, 6, 30)


def test_half_hour_dst_on_lord_howe() -> None:
    # Lord Howe Island, 2026-10-04: 02:00 (+10:30) jumps to 02:30 (+11) at 15:30 UTC.
    quiet = QuietHours(dt.time(23, 0), dt.time(2, 15))
    at_0100_local = utc(2026, 10, 3, 14, 30)
    assert after_quiet_hours(at_0100_local, zone=LORD_HOWE, quiet=quiet) == utc(2026, 10, 3, 15, 30)
    # 2026-04-05: 02:00 (+11) falls back to 01:30 (+10:30); 01:45 happens twice.
    fold_end = QuietHours(dt.time(23, 0), dt.time(1, 45))
    at_0100_first = utc(2026, 4, 4, 14, 0)
    assert after_quiet_hours(at_0100_first, zone=LORD_HOWE, quiet=fold_end) == utc(
        2026, 4, 4, 14, 45
    )


def test_resolve_wall_in_a_gap_and_a_fold() -> None:
    gap = dt.datetime(2026, 3, 8, 2, 30)
    assert resolve_wall(gap, NEW_YORK, not_before=utc(2026, 3, 8, 0, 0)) == utc(2026, 3, 8, 7, 0)
    fold = dt.datetime(2026, 11, 1, 1, 30)
    assert resolve_wall(fold, NEW_YORK, not_before=utc(2026, 11, 1, 0, 0)) == utc(
        2026, 11, 1, 5, 30
    )
    assert resolve_wall(fold, NEW_YORK, not_before=utc(2026, 11, 1, 6, 0)) == utc(
        2026, 11, 1, 6, 30
    )


def test_blocked_intervals_chain_and_then_quiet_hours_apply() -> None:
    start = utc(2026, 3, 2, 17, 0)  # 18:00 in Berlin
    blocked = post_dosing_blocks([start], hours=6)
    assert blocked == [(start, utc(2026, 3, 2, 23, 0))]
    # +1 h is inside the post-dosing period: moved to +6 h = 00:00 Berlin, quiet: 08:00.
    assert settle(start + dt.timedelta(hours=1), zone=BERLIN, quiet=NIGHT, blocked=blocked) == (
        utc(2026, 3, 3, 7, 0)
    )
    # Two overlapping periods: the end of the later one.
    chained = post_dosing_blocks([utc(2026, 3, 3, 9, 0), utc(2026, 3, 3, 12, 0)], hours=6)
    assert settle(utc(2026, 3, 3, 10, 0), zone=BERLIN, quiet=NIGHT, blocked=chained) == utc(
        2026, 3, 3, 18, 0
    )
    assert post_dosing_blocks([start], hours=0) == []


def test_next_day_first_waking_is_the_end_of_the_night() -> None:
    assert next_day_first_waking(utc(2026, 3, 2, 12, 0), zone=BERLIN, quiet=NIGHT) == utc(
        2026, 3, 3, 7, 0
    )
    # Without quiet hours the day starts at midnight (Berlin: 23:00 UTC before).
    none = QuietHours(dt.time(0, 0), dt.time(0, 0))
    assert next_day_first_waking(utc(2026, 3, 2, 12, 0), zone=BERLIN, quiet=none) == utc(
        2026, 3, 2, 23, 0
    )


def test_unknown_zone_names_fall_back_to_utc() -> None:
    assert zone_for("Mars/Olympus_Mons") == zoneinfo.ZoneInfo("UTC")
    assert zone_for("Europe/Berlin") == BERLIN


# Properties -----------------------------------------------------------------------------

ZONES = sorted(zoneinfo.available_timezones() - {"Factory", "localtime"})
DST_ZONES = [
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "America/Santiago",
    "America/Havana",
    "Asia/Beirut",
    "Pacific/Chatham",
    "Antarctica/Troll",
    "Europe/Dublin",
    "America/St_Johns",
]


@cache
def transitions(name: str, year: int) -> tuple[dt.datetime, ...]:
    """The instants (to the hour) when the zone's UTC offset changes in a year."""
    zone = zoneinfo.ZoneInfo(name)
    found = []
    instant = dt.datetime(year, 1, 1, tzinfo=UTC)
    previous = instant.astimezone(zone).utcoffset()
    while instant.year == year:
        instant += dt.timedelta(hours=1)
        offset = instant.astimezone(zone).utcoffset()
        if offset != previous:
            found.append(instant)
            previous = offset
    return tuple(found)


minute_times = st.builds(dt.time, st.integers(0, 23), st.integers(0, 59))
# Any window, even one that leaves a minute awake: the pathological ones that a DST gap can
# swallow whole (the API refuses quiet hours of more than 20 h).
any_quiet_hours = st.builds(QuietHours, minute_times, minute_times)
quiet_hours = any_quiet_hours.filter(lambda quiet: quiet.length <= MAX_QUIET_HOURS)
any_instant = st.datetimes(
    min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2037, 12, 31), timezones=st.just(UTC)
)


@st.composite
def instants_in_zone(draw: st.DrawFn) -> tuple[zoneinfo.ZoneInfo, dt.datetime]:
    """A zone, and an instant: anywhere, or within a day of one of its DST changes."""
    if draw(st.booleans()):
        name = draw(st.sampled_from(DST_ZONES))
        changes = transitions(name, draw(st.sampled_from([2025, 2026, 2027])))
        if changes:
            near = draw(st.sampled_from(changes))
            seconds = draw(st.integers(-26 * 3600, 26 * 3600))
            return zoneinfo.ZoneInfo(name), near + dt.timedelta(seconds=seconds)
    return zoneinfo.ZoneInfo(draw(st.sampled_from(ZONES))), draw(any_instant)


PROPERTY_SETTINGS = settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(instants_in_zone(), quiet_hours)
@example((NEW_YORK, utc(2026, 3, 8, 6, 45)), QuietHours(dt.time(1, 0), dt.time(2, 30)))
@example((NEW_YORK, utc(2026, 11, 1, 6, 10)), QuietHours(dt.time(0, 0), dt.time(1, 30)))
@example((LORD_HOWE, utc(2026, 10, 3, 14, 30)), QuietHours(dt.time(23, 0), dt.time(2, 15)))
def test_quiet_hours_move_a_prompt_forward_out_of_them(zone_and_instant, quiet) -> None:
    zone, nominal = zone_and_instant
    due = after_quiet_hours(nominal, zone=zone, quiet=quiet)
    # Never before the nominal time, never inside quiet hours (local), at most a day later
    # (plus the clock change when the night spans one: 1 h almost everywhere).
    assert due >= nominal
    assert not quiet.contains(wall_time(due, zone).time())
    assert due - nominal <= dt.timedelta(hours=24) + dt.timedelta(hours=1)
    # Idempotent: applying it again changes nothing.
    assert after_quiet_hours(due, zone=zone, quiet=quiet) == due
    # Outside quiet hours nothing moves.
    if not quiet.contains(wall_time(nominal, zone).time()):
        assert due == nominal


@PROPERTY_SETTINGS
@given(instants_in_zone(), any_quiet_hours)
@example((NEW_YORK, utc(2025, 3, 9, 4, 59, 59)), QuietHours(dt.time(2, 1), dt.time(2, 0)))
def test_even_a_day_long_quiet_window_is_left_forward(zone_and_instant, quiet) -> None:
    # 02:01-02:00 leaves one waking minute, which New York's spring gap skips: the prompt
    # then waits for the next day's, never for a quiet minute.
    zone, nominal = zone_and_instant
    due = after_quiet_hours(nominal, zone=zone, quiet=quiet)
    assert due >= nominal
    assert not quiet.contains(wall_time(due, zone).time())
    assert after_quiet_hours(due, zone=zone, quiet=quiet) == due
    assert due - nominal <= dt.timedelta(hours=48)


@PROPERTY_SETTINGS
@given(instants_in_zone(), any_quiet_hours, st.integers(0, 36 * 3600))
def test_a_later_nominal_time_is_never_due_earlier(zone_and_instant, quiet, later_by) -> None:
    zone, first = zone_and_instant
    second = first + dt.timedelta(seconds=later_by)
    assert after_quiet_hours(first, zone=zone, quiet=quiet) <= after_quiet_hours(
        second, zone=zone, quiet=quiet
    )


@PROPERTY_SETTINGS
@given(
    instants_in_zone(),
    quiet_hours,
    st.lists(st.integers(-12 * 3600, 12 * 3600), max_size=3),
    st.integers(0, 8),
    st.integers(0, 24 * 3600),
)
def test_settling_avoids_quiet_hours_and_post_dosing_periods(
    zone_and_instant, quiet, starts, hours, later_by
) -> None:
    zone, nominal = zone_and_instant
    blocked = post_dosing_blocks(
        [nominal + dt.timedelta(seconds=offset) for offset in starts], hours=hours
    )
    due = settle(nominal, zone=zone, quiet=quiet, blocked=blocked)
    assert due >= nominal
    assert not quiet.contains(wall_time(due, zone).time())
    assert not any(start <= due < end for start, end in blocked)
    assert settle(due, zone=zone, quiet=quiet, blocked=blocked) == due
    later = nominal + dt.timedelta(seconds=later_by)
    assert settle(later, zone=zone, quiet=quiet, blocked=blocked) >= due


@PROPERTY_SETTINGS
@given(instants_in_zone(), quiet_hours)
def test_the_next_day_starts_on_the_next_local_date(zone_and_instant, quiet) -> None:
    zone, instant = zone_and_instant
    morning = next_day_first_waking(instant, zone=zone, quiet=quiet)
    assert morning > instant
    assert local_date(morning, zone) > local_date(instant, zone)
    assert not quiet.contains(wall_time(morning, zone).time())
