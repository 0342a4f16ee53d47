"""prompts_sync_for_session: a dosing session's prompts appear, move and cancel with it.

Each test calls the service itself after changing a session, so it holds whether or not
journal's session services already call it as a hook (a second sync changes nothing).
The clock stands at Monday 2026-03-02 10:00 UTC; the patient lives in Berlin (UTC+1 until
the 29th), with the default quiet hours 21:00-08:00 and three prompts a day.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
import time_machine
from django.test import override_settings

from integration.models import Prompt, PromptStatus
from integration.prompts import scheduling
from integration.prompts.planning import prompts_expire_overdue, prompts_sync_for_session
from integration.prompts.timeline import timeline_update
from journal.sessions import services
from tests.integration.factories import (
    make_patient,
    make_plan,
    make_session,
    plan,
    prompts_of,
    set_timeline,
    step_of,
)
from tests.integration.prompts.helpers import MONDAY, at, dosing, update

pytestmark = pytest.mark.usefixtures("frozen_now")

H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)


def snapshot(session) -> dict[str, tuple]:
    return {
        slug: (prompt.id, prompt.status, prompt.due_at, prompt.expires_at)
        for slug, prompt in prompts_of(session).items()
    }


def test_a_dosing_session_gets_one_prompt_per_step_at_its_offsets(patient) -> None:
    session = dosing(patient, MONDAY)

    prompts = prompts_of(session)
    # The measure steps (twice each: before the course and a week after) are checked in
    # test_measure_steps.py.
    measures = Prompt.objects.filter(session=session, exercise__slug__in=["phq9", "gad7"])
    assert measures.count() == 4
    prompts = {slug: p for slug, p in prompts.items() if slug not in ("phq9", "gad7")}
    assert {slug: (p.due_at, p.expires_at - p.due_at) for slug, p in prompts.items()} == {
        "set-intention": (at(6, 9), 48 * H),
        "readiness-checklist": (at(8, 9), 20 * H),
        "after-session-checkin": (at(9, 12), 12 * H),
        "next-day-reflection": (at(10, 9), 48 * H),
        "body-scan": (at(11, 9), 48 * H),
        "weekly-mood-checkin": (at(16, 9), 48 * H),
        "intention-follow-up": (at(16, 9), 4 * D),
        "values-clarification": (at(23, 9), 3 * D),
        "carry-forward": (at(8, 9, month=4), 7 * D),
    }
    assert {p.status for p in prompts.values()} == {PromptStatus.SCHEDULED}
    assert all(p.nominal_at == p.due_at and p.patient_id == patient.pk for p in prompts.values())


def test_syncing_again_changes_nothing(patient) -> None:
    session = dosing(patient, MONDAY)
    before = snapshot(session)

    prompts_sync_for_session(session=session)

    assert snapshot(session) == before
    assert Prompt.objects.filter(patient=patient).count() == 13  # nine steps, four measures


def test_only_live_dosing_sessions_get_prompts(patient) -> None:
    preparation = make_session(patient, MONDAY, kind="preparation")
    cancelled = make_session(patient, MONDAY + D, status="cancelled")
    prompts_sync_for_session(session=preparation)
    prompts_sync_for_session(session=cancelled)

    assert not Prompt.objects.filter(patient=patient).exists()


def test_moving_a_session_moves_its_scheduled_prompts_and_no_others(patient) -> None:
    session = dosing(patient, MONDAY)
    sent = prompts_of(session)["set-intention"]
    Prompt.objects.filter(pk=sent.pk).update(status=PromptStatus.SENT, sent_at=at(6, 9))
    before = snapshot(session)

    update(patient, session, scheduled_start=MONDAY + D)

    after = snapshot(session)
    assert after["set-intention"] == (sent.id, PromptStatus.SENT, at(6, 9), at(8, 9))
    for slug in set(before) - {"set-intention"}:
        prompt_id, status, due, expires = before[slug]
        assert after[slug] == (prompt_id, status, due + D, expires + D)


def test_cancelling_a_session_cancels_its_unsent_prompts(patient) -> None:
    session = dosing(patient, MONDAY)
    opened = prompts_of(session)["set-intention"]
    Prompt.objects.filter(pk=opened.pk).update(status=PromptStatus.OPENED, opened_at=at(6, 9))

    update(patient, session, status="cancelled")

    prompts = prompts_of(session)
    assert prompts.pop("set-intention").status == PromptStatus.OPENED
    assert {p.status for p in prompts.values()} == {PromptStatus.CANCELLED}
    assert {p.cancelled_at for p in prompts.values()} == {at(2, 10)}


def test_deleting_a_session_cancels_its_prompts(patient) -> None:
    session = dosing(patient, MONDAY)

    deleted = services.session_delete(
        patient=patient, session_id=session.pk, expected_versions=None
    )
    prompts_sync_for_session(session=deleted)

    assert {p.status for p in prompts_of(session).values()} == {PromptStatus.CANCELLED}


def test_a_session_taking_place_again_brings_its_prompts_back(patient) -> None:
    session = dosing(patient, MONDAY)
    before = snapshot(session)
    update(patient, session, status="cancelled")

    update(patient, session, status="scheduled")

    assert snapshot(session) == before
    assert not any(p.cancelled_at for p in prompts_of(session).values())


def test_recording_the_actual_start_reanchors_the_later_prompts(patient) -> None:
    session = dosing(patient, MONDAY)
    before = {slug: p.due_at for slug, p in prompts_of(session).items()}

    update(patient, session, actual_start=MONDAY + 90 * dt.timedelta(minutes=1))

    after = {slug: p.due_at for slug, p in prompts_of(session).items()}
    for slug in ("set-intention", "readiness-checklist"):
        assert after[slug] == before[slug]
    # (The week-later GAD-7 sits on the daily cap's next morning either way; the measure
    # steps are checked in test_measure_steps.py.)
    for slug in set(before) - {"set-intention", "readiness-checklist", "phq9", "gad7"}:
        assert after[slug] == before[slug] + 90 * dt.timedelta(minutes=1), slug


def test_only_the_check_in_arrives_in_the_hours_after_dosing(patient) -> None:
    set_timeline(
        patient,
        plan=make_plan(
            "test-close",
            [("body-scan", 1 * H, 24 * H), ("after-session-checkin", 1 * H, 12 * H)],
        ),
    )
    session = dosing(patient, MONDAY)

    prompts = prompts_of(session)
    assert prompts["after-session-checkin"].due_at == MONDAY + 1 * H
    assert prompts["body-scan"].due_at == MONDAY + 6 * H
    assert prompts["body-scan"].nominal_at == MONDAY + 1 * H
    assert prompts["body-scan"].expires_at == MONDAY + 30 * H


def test_the_post_dosing_period_comes_from_settings(patient) -> None:
    set_timeline(patient, plan=make_plan("test-close", [("body-scan", 1 * H, 24 * H)]))
    with override_settings(PROMPT_POST_DOSING_QUIET_HOURS=2):
        session = dosing(patient, MONDAY)

    assert prompts_of(session)["body-scan"].due_at == MONDAY + 2 * H


def test_a_previous_sessions_prompt_waits_out_the_next_sessions_dosing(patient) -> None:
    # Twice a week: the +72 h practice of Monday's session falls on Thursday's dosing.
    set_timeline(patient, plan=make_plan("test-twice", [("breathing-practice", 72 * H, 24 * H)]))
    monday = dosing(patient, MONDAY)
    dosing(patient, MONDAY + 71 * H)

    assert prompts_of(monday)["breathing-practice"].due_at == MONDAY + 77 * H


def test_quiet_hours_apply_after_the_post_dosing_period(patient) -> None:
    set_timeline(
        patient,
        plan=make_plan(
            "test-evening",
            [("body-scan", 1 * H, 24 * H), ("after-session-checkin", 3 * H, 12 * H)],
        ),
    )
    session = dosing(patient, at(9, 17))  # 18:00 in Berlin

    prompts = prompts_of(session)
    # +6 h is midnight in Berlin, +3 h is 21:00: both wait for 08:00 (07:00 UTC).
    assert prompts["body-scan"].due_at == at(10, 7)
    assert prompts["after-session-checkin"].due_at == at(10, 7)


def test_a_step_already_past_is_due_now_while_its_window_is_open(patient) -> None:
    now = at(2, 10)
    session = dosing(patient, now + 6 * H)  # 17:00 in Berlin today

    prompts = prompts_of(session)
    # -72 h was 66 h ago and its 48 h window closed 18 h ago: not created.
    assert "set-intention" not in prompts
    # -24 h was 18 h ago; its 20 h window is still open for 2 h: due now, same expiry.
    readiness = prompts["readiness-checklist"]
    assert (readiness.nominal_at, readiness.due_at, readiness.expires_at) == (
        now - 18 * H,
        now,
        now + 2 * H,
    )
    assert prompts["after-session-checkin"].due_at == now + 9 * H


def test_a_step_already_past_at_night_waits_for_the_morning_or_is_dropped(patient) -> None:
    set_timeline(
        patient,
        plan=make_plan(
            "test-late", [("body-scan", -14 * H, 20 * H), ("breathing-practice", -14 * H, 26 * H)]
        ),
    )
    with time_machine.travel(at(2, 21, 30), tick=False):  # 22:30 in Berlin
        session = dosing(patient, at(2, 22))  # 23:00 in Berlin

    prompts = prompts_of(session)
    # Both were due at 09:00 Berlin; now is quiet, so "now" means 08:00 tomorrow. The
    # 20 h window closes at 05:00 tomorrow: dropped; the 26 h one is open until 11:00.
    assert "body-scan" not in prompts
    assert prompts["breathing-practice"].due_at == at(3, 7)


def test_the_earlier_of_two_overlapping_prompts_stands(patient) -> None:
    monday = dosing(patient, MONDAY)
    thursday = dosing(patient, MONDAY + 3 * D)

    assert len(prompts_of(monday)) == 11  # nine steps, and the PHQ-9 and GAD-7
    # Monday's one-week follow-up is open for four days and its 30-day one for a week:
    # Thursday's are not created. Its weekly check-in (Monday's closes after 48 h) is.
    later = prompts_of(thursday)
    assert "intention-follow-up" not in later
    assert "carry-forward" not in later
    assert later["weekly-mood-checkin"].due_at == at(19, 9)
    assert len(later) == 7


def test_overlaps_do_not_depend_on_the_order_sessions_are_added(patient) -> None:
    thursday = dosing(patient, MONDAY + 3 * D)
    follow_up = prompts_of(thursday)["intention-follow-up"]
    monday = dosing(patient, MONDAY)

    assert Prompt.objects.get(pk=follow_up.pk).status == PromptStatus.CANCELLED
    assert "intention-follow-up" in prompts_of(monday)

    update(patient, monday, status="cancelled")

    back = Prompt.objects.get(pk=follow_up.pk)
    assert (back.status, back.cancelled_at, back.due_at) == (
        PromptStatus.SCHEDULED,
        None,
        at(19, 9),
    )


def test_the_daily_cap_moves_later_prompts_to_the_next_morning(patient) -> None:
    set_timeline(patient, max_prompts_per_day=1)
    session = dosing(patient, MONDAY)

    prompts = prompts_of(session)
    # Both one-week steps fall on the 16th: the first in plan order stands, the other
    # moves to 08:00 (07:00 UTC) the next day, keeping its four days to answer.
    assert prompts["weekly-mood-checkin"].due_at == at(16, 9)
    follow_up = prompts["intention-follow-up"]
    assert (follow_up.nominal_at, follow_up.due_at, follow_up.expires_at) == (
        at(16, 9),
        at(17, 7),
        at(17, 7) + 4 * D,
    )


def test_the_check_in_neither_counts_nor_moves_under_the_cap(patient) -> None:
    set_timeline(
        patient,
        max_prompts_per_day=1,
        plan=make_plan(
            "test-cap",
            [
                ("after-session-checkin", 3 * H, 12 * H),
                ("body-scan", 7 * H, 24 * H),
                ("breathing-practice", 8 * H, 24 * H),
            ],
        ),
    )
    session = dosing(patient, MONDAY)

    prompts = prompts_of(session)
    assert prompts["after-session-checkin"].due_at == MONDAY + 3 * H
    assert prompts["body-scan"].due_at == MONDAY + 7 * H
    assert prompts["breathing-practice"].due_at == at(10, 7)


def test_a_twice_weekly_course_never_floods_the_patient(patient) -> None:
    set_timeline(patient, plan=plan("esketamine-course"))
    starts = [MONDAY + week * 7 * D + day * D for week in range(4) for day in (0, 3)]
    starts += [MONDAY + (4 + week) * 7 * D for week in range(4)]
    for start in starts:
        dosing(patient, start)

    prompts = list(
        Prompt.objects.filter(patient=patient, status=PromptStatus.SCHEDULED).select_related(
            "exercise"
        )
    )
    zone = scheduling.zone_for("Europe/Berlin")
    per_day = Counter(
        scheduling.local_date(p.due_at, zone) for p in prompts if not p.exercise.is_safety_relevant
    )
    assert max(per_day.values()) <= 3
    for prompt in prompts:
        assert not scheduling.DEFAULT_QUIET_HOURS.contains(
            scheduling.wall_time(prompt.due_at, zone).time()
        )
        if not prompt.exercise.is_safety_relevant:
            assert not any(start <= prompt.due_at < start + 6 * H for start in starts)
    # Moved, never dropped: every step of every session has its prompt (the measures,
    # weekly by the overlap rule, are counted in test_measure_steps.py).
    assert len([p for p in prompts if p.exercise.slug not in ("phq9", "gad7")]) == len(starts) * 5


def test_switching_plans_replaces_the_scheduled_prompts(patient) -> None:
    session = dosing(patient, MONDAY)
    old = {p.id for p in prompts_of(session).values()}

    timeline_update(patient=patient, plan_slug="iv-series")

    assert set(Prompt.objects.filter(pk__in=old).values_list("status", flat=True)) == {
        PromptStatus.CANCELLED
    }
    live = Prompt.objects.filter(session=session, status=PromptStatus.SCHEDULED)
    assert {p.step.plan.slug for p in live.select_related("step__plan")} == {"iv-series"}
    assert live.count() == 8  # four steps, four measures


def test_a_step_switched_off_is_cancelled_and_back_on_returns(patient) -> None:
    session = dosing(patient, MONDAY)
    body_scan = prompts_of(session)["body-scan"]
    step = step_of("kap-default", "body-scan")

    timeline_update(patient=patient, disabled_step_ids=[step.public_id])
    assert Prompt.objects.get(pk=body_scan.pk).status == PromptStatus.CANCELLED

    timeline_update(patient=patient, disabled_step_ids=[])
    again = Prompt.objects.get(pk=body_scan.pk)
    assert (again.status, again.due_at, again.cancelled_at) == (
        PromptStatus.SCHEDULED,
        at(11, 9),
        None,
    )


def test_a_snoozed_prompt_keeps_its_time_until_its_session_moves(patient) -> None:
    session = dosing(patient, MONDAY)
    body_scan = prompts_of(session)["body-scan"]
    Prompt.objects.filter(pk=body_scan.pk).update(due_at=at(11, 15), snoozed_until=at(11, 15))

    timeline_update(patient=patient, quiet_start=dt.time(22, 0))
    assert Prompt.objects.get(pk=body_scan.pk).due_at == at(11, 15)

    update(patient, session, scheduled_start=MONDAY + D)
    moved = Prompt.objects.get(pk=body_scan.pk)
    assert (moved.due_at, moved.snoozed_until) == (at(12, 9), None)


def test_a_session_across_a_dst_change_gets_each_prompt_once(db) -> None:
    patient = make_patient(time_zone="America/New_York")
    # New York springs forward on Sunday 2026-03-08; the session is Monday 10:00 EDT.
    session = dosing(patient, at(9, 14))

    prompts = prompts_of(session)
    assert Prompt.objects.filter(session=session).count() == 13
    assert len(prompts) == 11  # the PHQ-9 and GAD-7 twice: before the course, a week after
    zone = scheduling.zone_for("America/New_York")
    local = {slug: scheduling.wall_time(p.due_at, zone) for slug, p in prompts.items()}
    assert local["set-intention"] == dt.datetime(2026, 3, 6, 9, 0)  # EST
    assert local["readiness-checklist"] == dt.datetime(2026, 3, 8, 10, 0)  # EDT
    assert prompts["readiness-checklist"].due_at == at(8, 14)


def test_overdue_prompts_expire(patient) -> None:
    session = dosing(patient, MONDAY)
    prompts = prompts_of(session)
    Prompt.objects.filter(pk=prompts["set-intention"].pk).update(status=PromptStatus.SENT)
    Prompt.objects.filter(pk=prompts["readiness-checklist"].pk).update(
        status=PromptStatus.COMPLETED
    )
    Prompt.objects.filter(pk=prompts["next-day-reflection"].pk).update(status=PromptStatus.SENDING)
    later = at(9, 9)  # the intention, readiness and pre-course measure windows have closed

    # The intention, and the PHQ-9 and GAD-7 before the course.
    assert prompts_expire_overdue(now=later) == 3

    statuses = {slug: p.status for slug, p in prompts_of(session).items()}
    assert statuses["set-intention"] == PromptStatus.EXPIRED
    assert statuses["readiness-checklist"] == PromptStatus.COMPLETED
    assert Prompt.objects.get(pk=prompts["set-intention"].pk).expired_at == later
    assert prompts_expire_overdue(now=later) == 0
    # All still scheduled but one: five steps, and the week-later PHQ-9 and GAD-7.
    assert prompts_expire_overdue(now=at(30, 9)) == 7


def test_changing_the_time_zone_replans_upcoming_prompts(db) -> None:
    from datetime import timedelta

    from django.utils import timezone
    from rest_framework.test import APIClient

    from integration.models import Prompt
    from tests.journal.factories import make_patient, make_session

    patient = make_patient(email="mover@example.org", time_zone="Europe/Berlin")
    # Noon UTC: 13:00 in Berlin, but 04:00 in Los Angeles, inside the default quiet hours.
    start = (timezone.now() + timedelta(days=10)).replace(hour=12, minute=0, second=0)
    make_session(patient, scheduled_start=start)
    before = dict(Prompt.objects.filter(patient=patient).values_list("step_id", "due_at"))
    client = APIClient()
    client.force_authenticate(patient)

    response = client.patch("/api/v1/me/", {"time_zone": "America/Los_Angeles"}, format="json")

    assert response.status_code == 200
    after = dict(Prompt.objects.filter(patient=patient).values_list("step_id", "due_at"))
    assert after.keys() == before.keys()
    assert after != before  # quiet hours now fall nine hours later in absolute time
