"""What moved a prompt, as planning records it (`Prompt.moved_by`) for the upcoming view:
quiet hours, the post-dosing quiet period, the daily cap, or a time already past.

The clock stands at Monday 2026-03-02 10:00 UTC; the patient lives in Berlin (UTC+1).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integration.models import Prompt, PromptMove
from integration.prompts.planning import prompts_sync_for_patient
from integration.prompts.scheduling import (
    QuietHours,
    post_dosing_blocks,
    settle,
    settle_explained,
)
from tests.integration.conftest import NOW
from tests.integration.factories import make_session, prompts_of, set_timeline

H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
NIGHT = QuietHours(dt.time(21, 0), dt.time(8, 0))
MONDAY = dt.datetime(2026, 3, 9, 9, 0, tzinfo=dt.UTC)  # 10:00 in Berlin


@given(
    instant=st.datetimes(
        min_value=dt.datetime(2026, 1, 1),
        max_value=dt.datetime(2026, 12, 31),
        timezones=st.just(dt.UTC),
    ),
    dosing_offsets=st.lists(st.integers(min_value=-48, max_value=48), max_size=3),
)
@settings(max_examples=300, deadline=None)
def test_settle_explained_settles_as_settle_does_and_names_what_moved(
    instant, dosing_offsets
) -> None:
    blocked = post_dosing_blocks([instant + k * H for k in dosing_offsets], hours=6)

    moved, reasons = settle_explained(instant, zone=BERLIN, quiet=NIGHT, blocked=blocked)

    assert moved == settle(instant, zone=BERLIN, quiet=NIGHT, blocked=blocked)
    assert (moved != instant) == bool(reasons)
    assert reasons <= {PromptMove.QUIET_HOURS, PromptMove.POST_DOSING}
    in_block = any(start <= instant < end for start, end in blocked)
    if in_block:
        assert PromptMove.POST_DOSING in reasons
    if not in_block and moved != instant:
        assert PromptMove.QUIET_HOURS in reasons


def test_settle_explained_examples() -> None:
    night = dt.datetime(2026, 3, 2, 22, 0, tzinfo=dt.UTC)  # 23:00 in Berlin
    assert settle_explained(night, zone=BERLIN, quiet=NIGHT) == (
        dt.datetime(2026, 3, 3, 7, 0, tzinfo=dt.UTC),
        frozenset({PromptMove.QUIET_HOURS}),
    )
    # A block that ends at 22:00 local pushes it into the night: both moved it.
    start = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)
    blocked = post_dosing_blocks([start], hours=6)
    assert settle_explained(start + H, zone=BERLIN, quiet=NIGHT, blocked=blocked)[1] == {
        PromptMove.QUIET_HOURS,
        PromptMove.POST_DOSING,
    }
    noon = dt.datetime(2026, 3, 2, 11, 0, tzinfo=dt.UTC)
    assert settle_explained(noon, zone=BERLIN, quiet=NIGHT) == (noon, frozenset())


@pytest.mark.usefixtures("frozen_now")
def test_planning_records_the_daily_cap(patient) -> None:
    set_timeline(patient, max_prompts_per_day=1)
    session = make_session(patient, MONDAY)

    prompts = prompts_of(session)
    # Both one-week steps fall on the 16th: the second moves to the next morning.
    assert prompts["weekly-mood-checkin"].moved_by == []
    assert prompts["intention-follow-up"].moved_by == [PromptMove.DAILY_CAP]


@pytest.mark.usefixtures("frozen_now")
def test_planning_records_a_time_already_past(patient) -> None:
    """A session in two days: its intention (three days before) is due at once."""
    set_timeline(patient, max_prompts_per_day=10)
    session = make_session(patient, NOW + 2 * D)

    intention = prompts_of(session)["set-intention"]
    assert intention.nominal_at == NOW - D
    assert intention.due_at == NOW
    assert intention.moved_by == [PromptMove.PLANNED_LATE]


@pytest.mark.usefixtures("frozen_now")
def test_a_change_of_quiet_hours_rewrites_the_reasons(patient, patient_client) -> None:
    session = make_session(patient, MONDAY)  # reflection the next day at 10:00 local
    assert prompts_of(session)["next-day-reflection"].moved_by == []

    set_timeline(patient, quiet_start=dt.time(21, 0), quiet_end=dt.time(11, 0))
    prompts_sync_for_patient(patient=patient)

    reflection = Prompt.objects.get(pk=prompts_of(session)["next-day-reflection"].pk)
    assert reflection.moved_by == [PromptMove.QUIET_HOURS]
    assert reflection.due_at == MONDAY + D + H
    item = next(
        item
        for item in patient_client.get("/api/v1/me/upcoming/", {"limit": 200}).json()["results"]
        if item.get("id") == str(reflection.pk)
    )
    assert item["moved"]["reasons"] == ["quiet_hours"]
