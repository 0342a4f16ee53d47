"""Expanding the shipped course templates: property tests over start dates (across
daylight-saving changes), local times, weekdays and zones."""

from __future__ import annotations

import datetime as dt
import importlib
import itertools
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

from integration.courses import recurrence

TEMPLATES = {
    template["slug"]: template
    for template in importlib.import_module("integration.migrations.0010_courses").TEMPLATES
}
# Zones with DST north and south of the equator, one without, one far from UTC.
ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC"]


@dataclass(frozen=True)
class Phase:
    pk: int
    position: int
    name: str
    session_kind: str
    rule: str
    starts_after_days: int
    weekdays: str
    is_maintenance: bool


def phases_of(slug: str) -> list[Phase]:
    return [
        Phase(position, position, name, kind, rule, after, weekdays, maintenance)
        for position, (name, kind, rule, after, weekdays, maintenance) in enumerate(
            TEMPLATES[slug]["phases"], start=1
        )
    ]


def expected_count(slug: str) -> int:
    return sum(int(rule.split("COUNT=")[1]) for _, _, rule, *_ in TEMPLATES[slug]["phases"])


# Start dates that put a course across the spring and autumn changes of both hemispheres.
starts = st.dates(min_value=dt.date(2026, 1, 1), max_value=dt.date(2027, 12, 31))
# Waking hours: no zone here has a DST gap or fold between 06:00 and 21:59.
local_times = st.builds(dt.time, hour=st.integers(6, 21), minute=st.sampled_from([0, 15, 30, 45]))
zones = st.sampled_from(ZONES).map(ZoneInfo)


def weekdays_for(slug: str) -> st.SearchStrategy[list[int]]:
    template = TEMPLATES[slug]
    return st.lists(
        st.integers(0, 6),
        min_size=template["min_weekdays"],
        max_size=template["max_weekdays"],
        unique=True,
    ).map(sorted)


def check_course(slug, start, local_time, weekdays, zone, interval=1):
    phases = phases_of(slug)
    occurrences = recurrence.expand(
        phases,
        start_date=start,
        local_time=local_time,
        weekdays=weekdays,
        zone=zone,
        maintenance_interval_weeks=interval,
    )
    assert len(occurrences) == expected_count(slug)
    starts_utc = [item.start for item in occurrences]
    assert starts_utc == sorted(starts_utc)
    assert len(set(starts_utc)) == len(starts_utc)  # no two sessions at once
    first_day = recurrence.first_day(start, weekdays)
    assert first_day >= start
    for item in occurrences:
        local = item.start.astimezone(zone)
        # The wall time stays the chosen one whatever daylight-saving change lies between.
        assert local.time() == local_time
        assert local.replace(tzinfo=None) == item.wall
        assert local.date() >= first_day
        if item.phase.weekdays == "all":
            assert local.weekday() in weekdays
        elif item.phase.weekdays == "first":
            assert local.weekday() == first_day.weekday()
    return occurrences


@settings(max_examples=60, deadline=None)
@given(
    start=starts,
    local_time=local_times,
    weekdays=weekdays_for("esketamine-induction-maintenance"),
    zone=zones,
    interval=st.sampled_from([1, 2]),
)
def test_esketamine_twice_weekly_then_weekly_then_every_one_or_two_weeks(
    start, local_time, weekdays, zone, interval
):
    occurrences = check_course(
        "esketamine-induction-maintenance", start, local_time, weekdays, zone, interval
    )
    day_one = recurrence.first_day(start, weekdays)
    days = [(item.wall.date() - day_one).days for item in occurrences]
    # SPRAVATO label: two a week in weeks 1-4, one a week in weeks 5-8, then maintenance.
    assert [sum(1 for day in days if day // 7 == week) for week in range(8)] == [2] * 4 + [1] * 4
    maintenance = [item.wall.date() for item in occurrences if item.phase.is_maintenance]
    assert len(maintenance) == 4
    assert maintenance[0] == day_one + dt.timedelta(days=56)
    gaps = {(later - earlier).days for earlier, later in itertools.pairwise(maintenance)}
    assert gaps == {7 * interval}


@settings(max_examples=60, deadline=None)
@given(start=starts, local_time=local_times, weekdays=weekdays_for("iv-series"), zone=zones)
def test_iv_series_is_six_infusions_in_two_to_three_weeks(start, local_time, weekdays, zone):
    occurrences = check_course("iv-series", start, local_time, weekdays, zone)
    span = occurrences[-1].wall.date() - occurrences[0].wall.date()
    assert span < dt.timedelta(weeks=3)


@settings(max_examples=60, deadline=None)
@given(start=starts, local_time=local_times, weekdays=weekdays_for("kap-course"), zone=zones)
def test_kap_prepares_then_doses_weekly_with_integration_the_next_day(
    start, local_time, weekdays, zone
):
    occurrences = check_course("kap-course", start, local_time, weekdays, zone)
    kinds = [item.phase.session_kind for item in occurrences]
    assert kinds[:2] == ["preparation", "preparation"]
    assert kinds[2:] == ["dosing", "integration"] * 6
    for dosing, integration in zip(occurrences[2::2], occurrences[3::2], strict=True):
        assert integration.wall - dosing.wall == dt.timedelta(days=1)


def test_nine_stays_nine_across_the_spring_change_in_berlin():
    # Mondays and Thursdays from 2026-03-16: the clocks go forward on 29 March.
    berlin = ZoneInfo("Europe/Berlin")
    occurrences = check_course(
        "esketamine-induction-maintenance", dt.date(2026, 3, 16), dt.time(9), [0, 3], berlin
    )
    before, after = occurrences[3], occurrences[4]  # Thu 26 March, Mon 30 March
    assert before.start.hour == 8  # UTC: CET
    assert after.start.hour == 7  # UTC: CEST
    assert before.start.astimezone(berlin).hour == after.start.astimezone(berlin).hour == 9


def test_a_time_in_the_spring_gap_becomes_the_first_instant_after_it():
    berlin = ZoneInfo("Europe/Berlin")
    occurrences = recurrence.expand(
        phases_of("iv-series"),
        start_date=dt.date(2026, 3, 27),
        local_time=dt.time(2, 30),  # 02:30 does not exist on 29 March in Berlin
        weekdays=[6, 2],
        zone=berlin,
    )
    sunday = occurrences[0]
    assert sunday.wall == dt.datetime(2026, 3, 29, 2, 30)
    assert sunday.start == dt.datetime(2026, 3, 29, 1, 0, tzinfo=dt.UTC)  # 03:00 CEST


@pytest.mark.parametrize(
    ("rule", "weekdays", "message"),
    [
        ("FREQ=WEEKLY", "first", "COUNT"),
        ("FREQ=WEEKLY;COUNT=61", "first", "COUNT"),
        ("FREQ=MONTHLY;COUNT=3", "first", "DAILY"),
        ("FREQ=WEEKLY;UNTIL=20270101T000000Z", "first", "UNTIL"),
        ("FREQ=WEEKLY;COUNT=4;BYDAY=MO", "all", "BYDAY"),
        ("every week", "first", "RRULE"),
        # Parts that can filter out every day: no session, and seconds of work for it.
        ("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30;COUNT=1", "none", "BYDAY"),
        ("FREQ=WEEKLY;COUNT=4;BYSETPOS=5", "first", "INTERVAL"),
        ("FREQ=WEEKLY;COUNT=4;BYHOUR=9", "first", "INTERVAL"),
        ("FREQ=WEEKLY;COUNT=4;BYDAY=1MO", "none", "day codes"),
        ("FREQ=WEEKLY;COUNT=4;INTERVAL=0", "first", "INTERVAL from 1"),
        # Sessions in the 22nd century.
        ("FREQ=WEEKLY;COUNT=2;INTERVAL=5000", "first", "INTERVAL from 1"),
        ("FREQ=WEEKLY;COUNT=60;INTERVAL=52", "first", "days of the course"),
        # Whole weeks of days land on one weekday only, never on BYDAY's Tuesday for a
        # course that starts on a Monday.
        ("FREQ=DAILY;INTERVAL=7;COUNT=4;BYDAY=TU", "none", "fewer sessions"),
    ],
)
def test_a_template_rule_a_course_cannot_expand_is_refused(rule, weekdays, message):
    with pytest.raises(ValidationError) as refused:
        recurrence.check_rule(rule, field="rule", weekdays=weekdays)
    assert message in str(refused.value)


@pytest.mark.parametrize(
    ("rule", "weekdays", "starts_after_days", "is_maintenance", "message"),
    [
        ("FREQ=WEEKLY;COUNT=4", "first", 5000, False, "days of the course"),
        ("FREQ=DAILY;INTERVAL=7;COUNT=4", "first", 3, False, "fewer sessions"),
        ("FREQ=DAILY;COUNT=4", "all", 3, True, "fewer sessions"),  # maintenance: weeks
    ],
)
def test_a_phase_start_a_rule_cannot_take_is_refused(
    rule, weekdays, starts_after_days, is_maintenance, message
):
    with pytest.raises(ValidationError) as refused:
        recurrence.check_rule(
            rule,
            field="rule",
            weekdays=weekdays,
            starts_after_days=starts_after_days,
            is_maintenance=is_maintenance,
        )
    assert message in str(refused.value)


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=WEEKLY;COUNT=8;INTERVAL=2",
        "FREQ=DAILY;INTERVAL=7;COUNT=4",
        "FREQ=DAILY;INTERVAL=3;COUNT=4;BYDAY=MO,WE",
        "FREQ=WEEKLY;COUNT=4;BYDAY=MO,TH;WKST=SU",
    ],
)
def test_rules_that_always_make_their_sessions_pass(rule):
    recurrence.check_rule(rule, field="rule", weekdays="none" if "BYDAY" in rule else "first")


def test_the_shipped_rules_pass_the_check():
    for template in TEMPLATES.values():
        for _, _, rule, starts_after_days, weekdays, maintenance in template["phases"]:
            recurrence.check_rule(
                rule,
                field="rule",
                weekdays=weekdays,
                starts_after_days=starts_after_days,
                is_maintenance=maintenance,
            )
