"""Writes of courses: create one with its sessions, and change it as clinics do.

Every write runs in one transaction. Sessions are made and changed only through the
journal's session services, so each one re-plans the patient's prompts through
`settings.JOURNAL_SESSION_HOOKS` as a single session write does; if any step fails (a
hook included) nothing of the write stays: no course, no session, no prompt.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, models, transaction
from django.utils import timezone
from rest_framework.exceptions import NotFound

from backend.accounts.models import User
from backend.errors import ProblemError, invalid_fields
from backend.problem_codes import ProblemCode
from integration.courses import recurrence
from integration.courses.models import (
    Course,
    CourseSession,
    CourseStatus,
    CourseTemplate,
    CourseTemplatePhase,
)
from integration.models import IntegrationPlan, PatientTimeline
from integration.prompts import scheduling
from integration.prompts.timeline import timeline_update
from journal.models import Modality, SessionKind, SessionStatus, TreatmentSession
from journal.sessions import services as session_services

# How far ahead a course may start, and how many sessions one extension adds at most.
MAX_START_AHEAD = dt.timedelta(days=366)
MAX_EXTENSION = 26
MAINTENANCE_INTERVALS = (1, 2)


class MoveScope(models.TextChoices):
    THIS = "this", "This session only"
    FOLLOWING = "following", "This session and every later scheduled one"


@dataclass(frozen=True)
class CourseCreated:
    course: Course
    is_new: bool


class CourseConflictError(ProblemError):
    """A create whose id names a course of this patient's made from another request;
    the view adds the course as it is now (`current`)."""

    def __init__(self, course: Course) -> None:
        super().__init__(
            409,
            ProblemCode.ID_CONFLICT,
            "This id is already used by a course created from a different request. Send "
            "the same request to repeat a create, or choose a new random UUID.",
        )
        self.course = course


def _session_id(course_id: uuid.UUID, position: int) -> uuid.UUID:
    # Derived from the course, so a client that knows the course id can name its sessions.
    return uuid.uuid5(course_id, f"session-{position}")


def _today(patient: User, now: dt.datetime) -> dt.date:
    return scheduling.local_date(now, scheduling.zone_for(patient.time_zone))


def _phases(template: CourseTemplate) -> list[CourseTemplatePhase]:
    return list(template.phases.order_by("position"))


def _request_values(
    *,
    template_slug: str,
    modality: str | None,
    plan_slug: str | None,
    start_date: dt.date,
    local_time: dt.time,
    weekdays: Sequence[str],
    maintenance_interval_weeks: int,
) -> dict[str, Any]:
    """The create request, normalized: what a repeat is compared with."""
    return {
        "template": template_slug,
        "modality": modality or "",
        "plan": plan_slug or "",
        "start_date": start_date.isoformat(),
        "local_time": local_time.isoformat(timespec="minutes"),
        "weekdays": sorted(weekdays, key=lambda code: recurrence.WEEKDAY_CODES.index(code))
        if all(code in recurrence.WEEKDAY_CODES for code in weekdays)
        else list(weekdays),
        "maintenance_interval_weeks": maintenance_interval_weeks,
    }


def _repeat(course_id: uuid.UUID, patient: User, values: dict[str, Any]) -> Course | None:
    existing = Course.objects.filter(pk=course_id).first()
    if existing is None:
        return None
    if existing.patient_id != patient.pk:
        # The same answer as for any taken id: ids are random, nothing is learnt from it.
        raise ProblemError(
            409, ProblemCode.ID_CONFLICT, "This id is already used. Choose a new random UUID."
        )
    if existing.created_with != values:
        raise CourseConflictError(existing)
    return existing


def course_create(
    *,
    patient: User,
    template: str,
    start_date: dt.date,
    local_time: dt.time,
    weekdays: Sequence[str],
    id: uuid.UUID | None = None,
    modality: str | None = None,
    plan: str | None = None,
    maintenance_interval_weeks: int = 1,
    now: dt.datetime | None = None,
) -> CourseCreated:
    """Create a course and all its sessions, and make its plan the patient's, in one
    transaction. A repeat with the same `id` and the same request answers the course
    (`is_new` False); the same id with another request is a 409 carrying the course."""
    now = now or timezone.now()
    values = _request_values(
        template_slug=template,
        modality=modality,
        plan_slug=plan,
        start_date=start_date,
        local_time=local_time,
        weekdays=weekdays,
        maintenance_interval_weeks=maintenance_interval_weeks,
    )
    if id is not None:
        # Before the rules: a repeat must still succeed after the start date has passed.
        repeat = _repeat(id, patient, values)
        if repeat is not None:
            return CourseCreated(repeat, is_new=False)
    chosen, chosen_plan = _validate_create(
        patient=patient,
        template_slug=template,
        modality=modality,
        plan_slug=plan,
        start_date=start_date,
        weekdays=weekdays,
        maintenance_interval_weeks=maintenance_interval_weeks,
        now=now,
    )
    phases = _phases(chosen)
    zone = scheduling.zone_for(patient.time_zone)
    try:
        occurrences = recurrence.expand(
            phases,
            start_date=start_date,
            local_time=local_time,
            weekdays=recurrence.weekday_numbers(weekdays),
            zone=zone,
            maintenance_interval_weeks=maintenance_interval_weeks,
        )
    except recurrence.RuleError:
        raise _template_unusable() from None
    if not occurrences or occurrences[0].start <= now:
        raise invalid_fields({"local_time": ["The course's first session would be in the past."]})
    course = Course(
        id=id or uuid.uuid4(),
        patient=patient,
        template=chosen,
        modality=modality or chosen.modality,
        plan=chosen_plan,
        start_date=start_date,
        local_time=local_time,
        weekdays=",".join(values["weekdays"]),
        maintenance_interval_weeks=maintenance_interval_weeks,
        created_with=values,
        created_at=now,
        updated_at=now,
    )
    with transaction.atomic():
        try:
            with transaction.atomic():
                course.save(force_insert=True)
        except IntegrityError:
            # The same id made meanwhile by a repeat of this request, or another active course.
            repeat = _repeat(course.id, patient, values)
            if repeat is not None:
                return CourseCreated(repeat, is_new=False)
            raise _active_course_exists() from None
        timeline_update(patient=patient, plan_slug=chosen_plan.slug, now=now)
        _add_sessions(course, occurrences, first_position=1)
    return CourseCreated(course, is_new=True)


def _template_unusable() -> ProblemError:
    """A template whose stored rules its checks now refuse (saved before them)."""
    return invalid_fields(
        {
            "template": [
                "This course template cannot be scheduled: its rules need correcting by "
                "the clinic. Choose another."
            ]
        }
    )


def _active_course_exists() -> ProblemError:
    return ProblemError(
        409,
        ProblemCode.COURSE_ACTIVE,
        "You have an active course. End it (POST .../end/) before starting another.",
    )


def _validate_create(
    *,
    patient: User,
    template_slug: str,
    modality: str | None,
    plan_slug: str | None,
    start_date: dt.date,
    weekdays: Sequence[str],
    maintenance_interval_weeks: int,
    now: dt.datetime,
) -> tuple[CourseTemplate, IntegrationPlan]:
    errors: dict[str, list[str]] = {}
    template = (
        CourseTemplate.objects.select_related("plan")
        .filter(slug=template_slug, is_offered=True)
        .first()
    )
    if template is None:
        errors["template"] = [
            "No such course template: choose one from GET /api/v1/course-templates/."
        ]
    chosen_plan = template.plan if template is not None else None
    if plan_slug:
        chosen_plan = IntegrationPlan.objects.filter(slug=plan_slug).first()
        if chosen_plan is None:
            errors["plan"] = ["No such plan: choose one from GET /api/v1/plans/."]
    if modality and modality not in Modality.values:
        errors["modality"] = ["Not a modality."]
    today = _today(patient, now)
    if start_date < today:
        errors["start_date"] = ["The start date is in the past."]
    elif start_date > today + MAX_START_AHEAD:
        errors["start_date"] = ["Start within a year."]
    if template is not None:
        problems = recurrence.check_weekdays(
            weekdays, low=template.min_weekdays, high=template.max_weekdays
        )
        if problems:
            errors["weekdays"] = problems
    if maintenance_interval_weeks not in MAINTENANCE_INTERVALS:
        errors["maintenance_interval_weeks"] = ["Every 1 or 2 weeks."]
    if errors or template is None or chosen_plan is None:
        raise invalid_fields(errors)
    if Course.objects.filter(patient=patient, status=CourseStatus.ACTIVE).exists():
        raise _active_course_exists()
    return template, chosen_plan


def _add_sessions(
    course: Course, occurrences: Sequence[recurrence.Occurrence], *, first_position: int
) -> None:
    """Make the sessions through the journal (each re-plans prompts), then tie them to
    the course."""
    links = []
    for position, occurrence in enumerate(occurrences, start=first_position):
        is_dosing = occurrence.phase.session_kind == SessionKind.DOSING
        created = session_services.session_create(
            patient=course.patient,
            id=_session_id(course.id, position),
            kind=occurrence.phase.session_kind,
            scheduled_start=occurrence.start,
            modality=course.modality if is_dosing else "",
            setting=course.template.setting if is_dosing else "",
        )
        if not created.is_new:
            raise ProblemError(
                409, ProblemCode.ID_CONFLICT, "A session id of this course is taken."
            )
        links.append(
            CourseSession(
                course=course,
                session=created.record,
                position=position,
                phase_id=occurrence.phase.pk,
            )
        )
    CourseSession.objects.bulk_create(links)


# Changes ---------------------------------------------------------------------------------


def _locked_course(patient: User, course_id: uuid.UUID) -> Course:
    course = (
        Course.objects.select_for_update(of=("self",))
        .select_related("template", "plan")
        .filter(patient=patient, pk=course_id)
        .first()
    )
    if course is None:
        raise NotFound()
    if course.status != CourseStatus.ACTIVE:
        raise ProblemError(
            409, ProblemCode.COURSE_ENDED, "This course has ended: it cannot change."
        )
    return course


def _touch(course: Course, now: dt.datetime) -> None:
    course.version += 1
    course.updated_at = now
    course.save(update_fields=["version", "updated_at", "status", "ended_at", "plan"])


def _course_session(course: Course, session_id: uuid.UUID) -> CourseSession:
    link = (
        CourseSession.objects.select_related("session")
        .filter(course=course, session_id=session_id, session__deleted_at__isnull=True)
        .first()
    )
    if link is None:
        raise NotFound()
    if link.session.status != SessionStatus.SCHEDULED:
        raise ProblemError(
            409,
            ProblemCode.SESSION_NOT_SCHEDULED,
            "Only a scheduled session of the course can change.",
        )
    return link


def _set_session(course: Course, session: TreatmentSession, **data: Any) -> None:
    session_services.session_update(
        patient=course.patient, session_id=session.pk, data=data, expected_versions=None
    )


def course_session_move(
    *,
    patient: User,
    course_id: uuid.UUID,
    session_id: uuid.UUID,
    scheduled_start: dt.datetime,
    scope: str = MoveScope.THIS,
    now: dt.datetime | None = None,
) -> Course:
    """Move one scheduled session of the course, or it and every later scheduled one.

    Later sessions move by the same change of wall-clock time in the patient's zone
    (days and hours), so a session at 09:00 local stays at 09:00 local even when the move
    crosses a daylight-saving change."""
    now = now or timezone.now()
    zone = scheduling.zone_for(patient.time_zone)
    with transaction.atomic():
        # Found first: someone else's course answers 404 whatever the body says.
        course = _locked_course(patient, course_id)
        link = _course_session(course, session_id)
        if scheduled_start <= now:
            raise invalid_fields({"scheduled_start": ["Move a session to a time in the future."]})
        moved = [link]
        if scope == MoveScope.FOLLOWING:
            # Later in time, not in course order: a session moved on its own past its
            # neighbours is where it is now.
            since = link.session.scheduled_start
            moved += list(
                CourseSession.objects.select_related("session")
                .filter(
                    models.Q(session__scheduled_start__gt=since)
                    | models.Q(session__scheduled_start=since, position__gt=link.position),
                    course=course,
                    session__status=SessionStatus.SCHEDULED,
                    session__deleted_at__isnull=True,
                )
                .exclude(pk=link.pk)
            )
        delta = scheduling.wall_time(scheduled_start, zone) - scheduling.wall_time(
            link.session.scheduled_start, zone
        )

        def in_time(row: CourseSession) -> tuple[dt.datetime, int]:
            return (row.session.scheduled_start, row.position)

        # Later ones first when moving later, earlier ones first when moving earlier: the
        # sessions keep their order at every step.
        for item in sorted(moved, key=in_time, reverse=delta > dt.timedelta(0)):
            if item.pk == link.pk:
                start = scheduled_start
            else:
                wall = scheduling.wall_time(item.session.scheduled_start, zone) + delta
                start = recurrence.resolve(wall.replace(tzinfo=None), zone)
            _set_session(course, item.session, scheduled_start=start)
        _touch(course, now)
    return course


def course_session_skip(
    *, patient: User, course_id: uuid.UUID, session_id: uuid.UUID, now: dt.datetime | None = None
) -> Course:
    """Skip one scheduled session: it is cancelled, and its prompts with it."""
    now = now or timezone.now()
    with transaction.atomic():
        course = _locked_course(patient, course_id)
        link = _course_session(course, session_id)
        _set_session(course, link.session, status=SessionStatus.CANCELLED)
        _touch(course, now)
    return course


def course_extend(
    *, patient: User, course_id: uuid.UUID, sessions: int, now: dt.datetime | None = None
) -> Course:
    """Add `sessions` maintenance sessions after the last one, in the course's rhythm."""
    now = now or timezone.now()
    if not 1 <= sessions <= MAX_EXTENSION:
        raise invalid_fields({"sessions": [f"Add from 1 to {MAX_EXTENSION} sessions."]})
    zone = scheduling.zone_for(patient.time_zone)
    with transaction.atomic():
        course = _locked_course(patient, course_id)
        phase = course.template.phases.filter(is_maintenance=True).first()
        rows = list(
            CourseSession.objects.select_related("session")
            .filter(course=course)
            .order_by("position")
        )
        if phase is None or not rows:
            raise ProblemError(
                409,
                ProblemCode.COURSE_NOT_EXTENDABLE,
                "This course's template has no maintenance phase to extend.",
            )
        # The last in time: a session moved on its own past its neighbours is where it is now.
        last = max(
            (row for row in rows if row.phase_id == phase.pk),
            key=lambda row: (row.session.scheduled_start, row.position),
            default=rows[-1],
        ).session
        try:
            occurrences = recurrence.extension(
                phase,
                after=scheduling.wall_time(last.scheduled_start, zone).replace(tzinfo=None),
                not_before=now,
                count=sessions,
                zone=zone,
                maintenance_interval_weeks=course.maintenance_interval_weeks,
            )
        except recurrence.RuleError:
            raise _template_unusable() from None
        _add_sessions(course, occurrences, first_position=rows[-1].position + 1)
        _touch(course, now)
    return course


def course_end(*, patient: User, course_id: uuid.UUID, now: dt.datetime | None = None) -> Course:
    """End the course: every session still scheduled is cancelled, with its prompts."""
    now = now or timezone.now()
    with transaction.atomic():
        course = _locked_course(patient, course_id)
        rest = CourseSession.objects.select_related("session").filter(
            course=course,
            session__status=SessionStatus.SCHEDULED,
            session__deleted_at__isnull=True,
            session__scheduled_start__gt=now,
        )
        for link in rest.order_by("position"):
            _set_session(course, link.session, status=SessionStatus.CANCELLED)
        course.status = CourseStatus.ENDED
        course.ended_at = now
        _touch(course, now)
    return course


def course_update(
    *, patient: User, course_id: uuid.UUID, plan: str, now: dt.datetime | None = None
) -> Course:
    """Switch the course's integration plan; the patient's prompts are planned again."""
    now = now or timezone.now()
    chosen = IntegrationPlan.objects.filter(slug=plan).first()
    if chosen is None:
        raise invalid_fields({"plan": ["No such plan: choose one from GET /api/v1/plans/."]})
    with transaction.atomic():
        course = _locked_course(patient, course_id)
        # The patient may have chosen another plan in their settings since (/me/plan/):
        # only when the course's plan is still theirs is there nothing to do.
        current = PatientTimeline.objects.filter(patient=patient).values_list("plan_id", flat=True)
        if chosen.pk == course.plan_id and current.first() == chosen.pk:
            return course
        course.plan = chosen
        timeline_update(patient=patient, plan_slug=chosen.slug, now=now)
        _touch(course, now)
    return course
