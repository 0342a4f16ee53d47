"""Changing a course as clinics do: every change re-plans the prompts of the sessions it
touches in the same transaction, and a failure anywhere leaves nothing changed."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError

from integration.courses import services
from integration.models import (
    Course,
    CourseSession,
    PatientTimeline,
    Prompt,
    PromptStatus,
)
from journal.models import TreatmentSession
from tests.integration.factories import esketamine_course, iv_course

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")


def sessions_of(course: Course) -> list[TreatmentSession]:
    return [
        link.session
        for link in CourseSession.objects.filter(course=course)
        .select_related("session")
        .order_by("position")
    ]


def move_by(
    patient,
    course: Course,
    session: TreatmentSession,
    delta: dt.timedelta,
    scope: str = services.MoveScope.THIS,
) -> None:
    """Moves the course's session by `delta` (with `scope="following"`, every later one too)."""
    services.course_session_move(
        patient=patient,
        course_id=course.pk,
        session_id=session.pk,
        scheduled_start=session.scheduled_start + delta,
        scope=scope,
    )


def scheduled_prompts(session: TreatmentSession) -> dict[int, tuple[dt.datetime, dt.datetime]]:
    return {
        prompt.step_id: (prompt.nominal_at, prompt.due_at)
        for prompt in Prompt.objects.filter(session=session, status=PromptStatus.SCHEDULED)
    }


def nominal_times(session: TreatmentSession) -> dict[int, dt.datetime]:
    return {step: nominal for step, (nominal, _) in scheduled_prompts(session).items()}


def shifted(prompts, delta):
    return {step: (nominal + delta, due + delta) for step, (nominal, due) in prompts.items()}


def test_moving_one_session_moves_its_prompts_by_exactly_the_move(patient, frozen_now):
    course = iv_course(patient)
    sessions = sessions_of(course)
    third, others = sessions[2], sessions[:2] + sessions[3:]
    before = scheduled_prompts(third)
    others_before = [nominal_times(session) for session in others]
    assert before

    move_by(patient, course, third, dt.timedelta(hours=2))

    third.refresh_from_db()
    assert third.scheduled_start == dt.datetime(2026, 3, 10, 10, 0, tzinfo=dt.UTC)
    after = scheduled_prompts(third)
    move = dt.timedelta(hours=2)
    assert after.keys() == before.keys()
    # Every prompt's nominal time moves by exactly the move; so does its due time where no
    # rule deferred it (a neighbouring session's post-dosing quiet period may still do so).
    assert {step: nominal for step, (nominal, _) in after.items()} == {
        step: nominal + move for step, (nominal, _) in before.items()
    }
    undeferred = [step for step, (nominal, due) in before.items() if due == nominal]
    assert len(undeferred) >= 3
    assert {step: after[step] for step in undeferred} == {
        step: shifted(before, move)[step] for step in undeferred
    }
    # The other sessions stay put, and so do their prompts' anchors.
    assert [nominal_times(session) for session in others] == others_before
    assert [session.scheduled_start for session in sessions_of(course)][3:] == [
        session.scheduled_start for session in others[2:]
    ]
    course.refresh_from_db()
    assert course.version == 2


def test_moving_a_session_and_all_later_ones_keeps_the_local_time_across_dst(
    patient, patient_api, frozen_now
):
    # Tue 24 and Fri 27 March in CET; the rest after the change to CEST on 29 March.
    course = iv_course(patient, start=dt.date(2026, 3, 24))
    sessions = sessions_of(course)
    first = sessions[0]
    before = [scheduled_prompts(session) for session in sessions]

    response = patient_api.post(
        f"/api/v1/courses/{course.pk}/sessions/{first.pk}/move/",
        {"scheduled_start": "2026-03-24T10:30:00+01:00", "scope": "following"},
        format="json",
    )

    assert response.status_code == 200, response.json()
    moved = sessions_of(course)
    locals_ = [session.scheduled_start.astimezone(BERLIN) for session in moved]
    assert {(local.hour, local.minute) for local in locals_} == {(10, 30)}
    assert [local.date() for local in locals_] == [
        session.scheduled_start.astimezone(BERLIN).date() for session in sessions
    ]
    for old, new, prompts_before in zip(sessions, moved, before, strict=True):
        delta = new.scheduled_start - old.scheduled_start
        assert delta == dt.timedelta(hours=1, minutes=30)  # the same in UTC on both sides
        assert {step: nominal for step, (nominal, _) in scheduled_prompts(new).items()} == {
            step: nominal + delta for step, (nominal, _) in prompts_before.items()
        }
    body = response.json()
    assert {row["local_start"][11:] for row in body["sessions"]} == {"10:30:00"}


def test_moving_later_keeps_the_sessions_in_order(patient, frozen_now):
    course = iv_course(patient)
    sessions = sessions_of(course)

    move_by(patient, course, sessions[1], dt.timedelta(days=1), scope="following")

    moved = sessions_of(course)
    assert moved[0].scheduled_start == sessions[0].scheduled_start
    for old, new in zip(sessions[1:], moved[1:], strict=True):
        assert new.scheduled_start - old.scheduled_start == dt.timedelta(days=1)
    starts = [session.scheduled_start for session in moved]
    assert all(earlier < later for earlier, later in itertools.pairwise(starts))


def test_moving_following_moves_the_sessions_later_in_time_not_in_course_order(patient, frozen_now):
    # Tue 3, Fri 6, Tue 10, Fri 13, Tue 17, Fri 20 March at 09:00 in Berlin (08:00 UTC).
    course = iv_course(patient)
    sessions = sessions_of(course)
    # The patient is away the week of the 9th: the Tuesday session goes to Wednesday the 18th.
    move_by(patient, course, sessions[2], dt.timedelta(days=8))

    # Then the Friday 13th session and every later one move a day later.
    move_by(patient, course, sessions[3], dt.timedelta(days=1), scope="following")

    starts = {session.pk: session.scheduled_start for session in sessions_of(course)}
    assert starts[sessions[3].pk] == dt.datetime(2026, 3, 14, 8, 0, tzinfo=dt.UTC)
    assert starts[sessions[4].pk] == dt.datetime(2026, 3, 18, 8, 0, tzinfo=dt.UTC)
    # The session on the 18th came after the 13th: it moves too, rather than sharing its
    # hour with the one moved onto the 18th.
    assert starts[sessions[2].pk] == dt.datetime(2026, 3, 19, 8, 0, tzinfo=dt.UTC)
    assert starts[sessions[5].pk] == dt.datetime(2026, 3, 21, 8, 0, tzinfo=dt.UTC)
    assert starts[sessions[1].pk] == sessions[1].scheduled_start


def test_moving_following_earlier_never_moves_an_earlier_session_into_the_past(patient, frozen_now):
    # Now is Monday 2 March, 11:00 in Berlin; the course starts Tuesday 3 March.
    course = iv_course(patient)
    sessions = sessions_of(course)
    # The Friday 13th session goes to Monday the 9th, before the Tuesday 10th one.
    move_by(patient, course, sessions[3], -dt.timedelta(days=4))

    # Then the Tuesday 10th session and every later one move a week less an hour earlier.
    move_by(
        patient,
        course,
        sessions[2],
        -dt.timedelta(days=7) + dt.timedelta(hours=1),
        scope="following",
    )

    moved = {session.pk: session for session in sessions_of(course)}
    assert moved[sessions[2].pk].scheduled_start == dt.datetime(2026, 3, 3, 9, 0, tzinfo=dt.UTC)
    # Monday the 9th came before the session moved: it stays, and is not put in the past.
    assert moved[sessions[3].pk].scheduled_start == dt.datetime(2026, 3, 9, 8, 0, tzinfo=dt.UTC)
    assert all(session.scheduled_start > frozen_now for session in moved.values())
    assert moved[sessions[4].pk].scheduled_start == dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)


def test_skipping_a_session_cancels_it_and_its_prompts(patient, patient_api, frozen_now):
    course = iv_course(patient)
    second = sessions_of(course)[1]
    assert scheduled_prompts(second)

    response = patient_api.post(f"/api/v1/courses/{course.pk}/sessions/{second.pk}/skip/")

    assert response.status_code == 200
    second.refresh_from_db()
    assert second.status == "cancelled"
    assert not scheduled_prompts(second)
    assert Prompt.objects.filter(session=second, status=PromptStatus.CANCELLED).exists()
    assert response.json()["dosing_sessions_total"] == 5
    # A skipped session cannot be skipped or moved again.
    again = patient_api.post(f"/api/v1/courses/{course.pk}/sessions/{second.pk}/skip/")
    assert again.status_code == 409
    assert again.json()["code"] == "session_not_scheduled"
    # A 409 carries the course as it is now.
    assert again.json()["current"] == patient_api.get(f"/api/v1/courses/{course.pk}/").json()


def test_extending_maintenance_adds_sessions_in_its_rhythm_with_prompts(patient, frozen_now):
    course = esketamine_course(patient, maintenance_interval_weeks=2)
    last = sessions_of(course)[-1]

    services.course_extend(patient=patient, course_id=course.pk, sessions=2)

    added = sessions_of(course)[16:]
    assert len(added) == 2
    walls = [session.scheduled_start.astimezone(BERLIN) for session in [last, *added]]
    assert [
        (later.date() - earlier.date()).days for earlier, later in itertools.pairwise(walls)
    ] == [
        14,
        14,
    ]
    assert {wall.time() for wall in walls} == {dt.time(9)}
    assert all(scheduled_prompts(session) for session in added)
    positions = CourseSession.objects.filter(course=course).values_list("position", flat=True)
    assert sorted(positions) == list(range(1, 19))


def test_extending_adds_the_sessions_after_the_last_maintenance_session_in_time(
    patient, frozen_now
):
    # Maintenance on Thursdays 30 April, 7, 14 and 21 May at 09:00 in Berlin.
    course = esketamine_course(patient)
    maintenance = sessions_of(course)[12:]
    # The one of 14 May is put off to Wednesday 3 June, after the one of 21 May.
    move_by(patient, course, maintenance[2], dt.timedelta(days=20))

    services.course_extend(patient=patient, course_id=course.pk, sessions=2)

    added = sessions_of(course)[16:]
    walls = [session.scheduled_start.astimezone(BERLIN) for session in added]
    # After 3 June, not in the fortnight before it.
    assert [wall.date() for wall in walls] == [dt.date(2026, 6, 10), dt.date(2026, 6, 17)]
    assert {wall.time() for wall in walls} == {dt.time(9)}


def test_a_repeated_extension_under_one_key_adds_the_sessions_once(
    patient, patient_api, frozen_now
):
    course = esketamine_course(patient)
    url = f"/api/v1/courses/{course.pk}/extend/"
    key = {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())}

    first = patient_api.post(url, {"sessions": 2}, format="json", **key)
    again = patient_api.post(url, {"sessions": 2}, format="json", **key)
    other = patient_api.post(url, {"sessions": 3}, format="json", **key)

    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["sessions"] == first.json()["sessions"]
    assert len(sessions_of(course)) == 18
    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_key_reused"
    assert other.json()["current"]["id"] == str(course.pk)


def test_a_repeated_skip_under_one_key_answers_the_first_result(patient, patient_api, frozen_now):
    course = iv_course(patient)
    session = sessions_of(course)[1]
    url = f"/api/v1/courses/{course.pk}/sessions/{session.pk}/skip/"
    key = {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())}

    first = patient_api.post(url, format="json", **key)
    again = patient_api.post(url, format="json", **key)
    unkeyed = patient_api.post(url, format="json")

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()
    assert unkeyed.status_code == 409


def test_a_course_without_maintenance_cannot_be_extended(patient, patient_api, frozen_now):
    course = iv_course(patient)
    response = patient_api.post(
        f"/api/v1/courses/{course.pk}/extend/", {"sessions": 2}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "course_not_extendable"
    assert response.json()["current"]["id"] == str(course.pk)
    bad = patient_api.post(f"/api/v1/courses/{course.pk}/extend/", {"sessions": 0}, format="json")
    assert bad.status_code == 400
    assert len(sessions_of(course)) == 6


def test_ending_a_course_cancels_the_rest_and_their_prompts(patient, patient_api, frozen_now):
    course = iv_course(patient)

    response = patient_api.post(f"/api/v1/courses/{course.pk}/end/")

    assert response.status_code == 200
    assert response.json()["status"] == "ended"
    assert response.json()["next_session"] is None
    assert {session.status for session in sessions_of(course)} == {"cancelled"}
    assert not Prompt.objects.filter(patient=patient, status=PromptStatus.SCHEDULED).exists()
    later = patient_api.patch(
        f"/api/v1/courses/{course.pk}/", {"plan": "kap-default"}, format="json"
    )
    assert later.status_code == 409
    assert later.json()["code"] == "course_ended"


def test_switching_the_plan_replans_the_prompts(patient, patient_api, frozen_now):
    course = iv_course(patient)
    slugs = set(
        Prompt.objects.filter(patient=patient, status=PromptStatus.SCHEDULED).values_list(
            "exercise__slug", flat=True
        )
    )
    assert "walk-outside" in slugs

    response = patient_api.patch(
        f"/api/v1/courses/{course.pk}/", {"plan": "kap-default"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["plan"] == "kap-default"
    assert PatientTimeline.objects.get(patient=patient).plan.slug == "kap-default"
    scheduled = Prompt.objects.filter(patient=patient, status=PromptStatus.SCHEDULED)
    assert set(scheduled.values_list("step__plan__slug", flat=True)) == {"kap-default"}
    assert not Prompt.objects.filter(
        patient=patient, status=PromptStatus.SCHEDULED, exercise__slug="walk-outside"
    ).exists()
    unknown = patient_api.patch(f"/api/v1/courses/{course.pk}/", {"plan": "nope"}, format="json")
    assert unknown.status_code == 400


def test_switching_back_to_the_course_plan_after_the_plan_changed_elsewhere(
    patient, patient_api, frozen_now
):
    course = iv_course(patient)
    # The patient chose another plan in their settings meanwhile.
    changed = patient_api.patch("/api/v1/me/plan/", {"plan": "kap-default"}, format="json")
    assert changed.status_code == 200

    response = patient_api.patch(
        f"/api/v1/courses/{course.pk}/", {"plan": "iv-series"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["plan"] == "iv-series"
    # The answer says the course's plan is theirs: it is, and the prompts follow it.
    assert PatientTimeline.objects.get(patient=patient).plan.slug == "iv-series"
    scheduled = Prompt.objects.filter(patient=patient, status=PromptStatus.SCHEDULED)
    assert set(scheduled.values_list("step__plan__slug", flat=True)) == {"iv-series"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scheduled_start": "2026-03-01T09:00:00Z"}, "scheduled_start"),  # in the past
        ({"scheduled_start": "2026-03-20T09:00:00"}, "scheduled_start"),  # no offset
        ({"scheduled_start": "soon"}, "scheduled_start"),
        ({"scheduled_start": "2026-03-20T09:00:00Z", "scope": "all"}, "scope"),
    ],
)
def test_a_bad_move_is_a_400_and_moves_nothing(patient, patient_api, frozen_now, body, field):
    course = iv_course(patient)
    first = sessions_of(course)[0]

    response = patient_api.post(
        f"/api/v1/courses/{course.pk}/sessions/{first.pk}/move/", body, format="json"
    )

    assert response.status_code == 400
    assert field in response.json()["errors"]
    first.refresh_from_db()
    assert first.version == 1


def test_a_session_of_no_course_or_another_course_is_not_found(patient, patient_api, frozen_now):
    course = iv_course(patient)
    response = patient_api.post(f"/api/v1/courses/{course.pk}/sessions/{uuid.uuid4()}/skip/")
    assert response.status_code == 404
    response = patient_api.post(f"/api/v1/courses/{uuid.uuid4()}/end/")
    assert response.status_code == 404


class HookFailure(Exception):
    pass


calls = {"count": 0, "fail_at": 0}


def failing_hook(*, session: TreatmentSession) -> None:
    calls["count"] += 1
    if calls["count"] == calls["fail_at"]:
        raise HookFailure


@pytest.fixture
def fail_at(settings):
    """The session hook fails at its n-th call (the real planning hook runs before it)."""
    settings.JOURNAL_SESSION_HOOKS = [
        *settings.JOURNAL_SESSION_HOOKS,
        f"{__name__}.failing_hook",
    ]

    def arm(number: int) -> None:
        calls.update(count=0, fail_at=number)

    yield arm
    calls.update(count=0, fail_at=0)


def test_a_failing_hook_leaves_no_course_session_or_prompt(patient, frozen_now, fail_at):
    fail_at(4)
    with pytest.raises(HookFailure):
        iv_course(patient)
    assert not Course.objects.exists()
    assert not TreatmentSession.objects.filter(patient=patient).exists()
    assert not Prompt.objects.filter(patient=patient).exists()


def test_a_failing_hook_rolls_back_a_move_of_all_later_sessions(patient, frozen_now, fail_at):
    course = iv_course(patient)
    sessions = sessions_of(course)
    prompts_before = sorted(
        Prompt.objects.filter(patient=patient).values_list("id", "status", "due_at")
    )

    fail_at(3)  # the third session moved
    with pytest.raises(HookFailure):
        move_by(patient, course, sessions[0], dt.timedelta(hours=1), scope="following")

    assert [session.scheduled_start for session in sessions_of(course)] == [
        session.scheduled_start for session in sessions
    ]
    assert (
        sorted(Prompt.objects.filter(patient=patient).values_list("id", "status", "due_at"))
        == prompts_before
    )
    course.refresh_from_db()
    assert course.version == 1


def test_one_active_course_is_a_database_rule(patient, frozen_now):
    course = iv_course(patient)
    duplicate = Course(
        patient=patient,
        template=course.template,
        modality=course.modality,
        plan=course.plan,
        start_date=course.start_date,
        local_time=course.local_time,
        weekdays=course.weekdays,
        created_with={},
    )
    with pytest.raises(IntegrityError):
        duplicate.save(force_insert=True)


def snapshot(patient):
    return (
        sorted(
            TreatmentSession.objects.filter(patient=patient).values_list("id", "status", "version")
        ),
        sorted(Prompt.objects.filter(patient=patient).values_list("id", "status", "due_at")),
        list(Course.objects.values_list("status", "version")),
        CourseSession.objects.count(),
    )


def test_a_failing_hook_rolls_back_a_skip_an_end_and_an_extension(patient, frozen_now, fail_at):
    course = esketamine_course(patient)
    first = sessions_of(course)[0]
    before = snapshot(patient)

    for change, fail in (
        (
            lambda: services.course_session_skip(
                patient=patient, course_id=course.pk, session_id=first.pk
            ),
            1,
        ),
        (lambda: services.course_end(patient=patient, course_id=course.pk), 5),
        (lambda: services.course_extend(patient=patient, course_id=course.pk, sessions=3), 3),
    ):
        fail_at(fail)
        with pytest.raises(HookFailure):
            change()
        assert snapshot(patient) == before
