"""Reads of courses: the patient's own, and the one course a therapist's share reaches."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.exceptions import NotFound
from rest_framework.request import Request

from backend.accounts.models import User
from integration.care import access
from integration.courses.models import Course, CourseSession, CourseTemplate
from journal.models import SessionKind, SessionStatus


def _with_sessions(courses: QuerySet[Course]) -> QuerySet[Course]:
    """Courses with their live sessions in course order: three queries for any number."""
    sessions = (
        CourseSession.objects.filter(session__deleted_at__isnull=True)
        .select_related("session", "phase")
        .order_by("position")
    )
    return courses.select_related("template", "plan").prefetch_related(
        # `live_sessions` is declared on Course for the type checker; the prefetch sets it.
        Prefetch("course_sessions", queryset=sessions, to_attr="live_sessions")  # type: ignore[no-redef]
    )


def course_list_for_patient(*, patient: User) -> QuerySet[Course]:
    return _with_sessions(Course.objects.filter(patient=patient))


def course_get_for_patient(*, patient: User, course_id: uuid.UUID) -> Course:
    course = course_list_for_patient(patient=patient).filter(pk=course_id).first()
    if course is None:
        raise NotFound()
    return course


def template_list() -> QuerySet[CourseTemplate]:
    """The templates a patient may start a course of, with their phases."""
    return (
        CourseTemplate.objects.filter(is_offered=True)
        .select_related("plan")
        .prefetch_related("phases")
        .order_by("slug")
    )


@dataclass(frozen=True)
class Progress:
    """Where a course stands: its dosing sessions counted, and what comes next."""

    dosing_total: int
    dosing_done: int
    next_session: CourseSession | None


def course_progress(course: Course, *, now: dt.datetime | None = None) -> Progress:
    """From the course's prefetched sessions (`live_sessions`): no query."""
    now = now or timezone.now()
    rows: list[CourseSession] = course.live_sessions
    dosing = [
        row
        for row in rows
        if row.session.kind == SessionKind.DOSING and row.session.status != SessionStatus.CANCELLED
    ]
    done = [
        row
        for row in dosing
        if row.session.status == SessionStatus.COMPLETED
        or (row.session.actual_start or row.session.scheduled_start) <= now
    ]
    upcoming = [
        row
        for row in rows
        if row.session.status == SessionStatus.SCHEDULED and row.session.scheduled_start > now
    ]
    return Progress(
        dosing_total=len(dosing),
        dosing_done=len(done),
        next_session=min(upcoming, key=lambda row: row.session.scheduled_start, default=None),
    )


def dosing_number(course: Course, session_id: uuid.UUID) -> int | None:
    """Which dosing session of the course this is (1-based, cancelled ones not counted)."""
    number = 0
    for row in course.live_sessions:
        if row.session.kind != SessionKind.DOSING or row.session.status == SessionStatus.CANCELLED:
            continue
        number += 1
        if row.session_id == session_id:
            return number
    return None


@dataclass(frozen=True)
class SharedCourse:
    """A course as a therapist sees it through a share of one of its dosing sessions."""

    share_id: uuid.UUID
    patient_id: uuid.UUID
    course: Course
    progress: Progress
    shared_session_number: int | None


def course_for_therapist_share(
    *, therapist: User, share_id: uuid.UUID, request: HttpRequest | Request | None, via: str
) -> SharedCourse:
    """The course of the dosing session a share names, if the therapist may read the share
    now; NotFound (the same for every reason) otherwise, and for a share of a session in
    no course. One "share.course" access event is written in the transaction of the read."""
    now = timezone.now()
    with transaction.atomic():
        share = access.therapist_share_for_course(therapist=therapist, share_id=share_id)
        course = (
            _with_sessions(Course.objects.filter(patient_id=share.patient_id))
            .filter(course_sessions__session_id=share.dosing_session_id)
            .first()
        )
        if course is None:
            raise NotFound()
        progress = course_progress(course, now=now)
        access.access_record(
            actor=therapist,
            patient=share.patient_id,
            action=access.AccessAction.SHARE_COURSE,
            via=via,
            request=request,
            share=share,
            object_type="course",
            object_ids=[course.pk],
        )
    return SharedCourse(
        share_id=share.pk,
        patient_id=share.patient_id,
        course=course,
        progress=progress,
        shared_session_number=(
            dosing_number(course, share.dosing_session_id) if share.dosing_session_id else None
        ),
    )
