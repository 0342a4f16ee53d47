"""Course input and output shapes: the patient's course, its sessions, the templates, and
the therapist's read-only summary (times, kinds and counts; never a session's note)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rest_framework import serializers

from backend.pagination import pages_of
from backend.serializers import EnumField
from integration.courses import selectors
from integration.courses.models import (
    Course,
    CourseSession,
    CourseStatus,
    CourseTemplate,
    PhaseWeekdays,
    Weekday,
)
from integration.prompts import scheduling
from integration.prompts.serializers import time_field
from journal.models import Modality, SessionKind, SessionStatus, Setting

WALL_FORMAT = "%Y-%m-%dT%H:%M:%S"


class CourseSessionSerializer(serializers.Serializer[Any]):
    session_id = serializers.UUIDField(help_text="The journal session (/api/v1/sessions/{id}/).")
    position = serializers.IntegerField(help_text="Its place in the course, from 1.")
    phase = serializers.CharField(help_text="The template phase it belongs to.")
    kind = EnumField(SessionKind)
    status = EnumField(SessionStatus)
    scheduled_start = serializers.DateTimeField()
    local_start = serializers.CharField(
        help_text="The scheduled start on your wall clock (your time zone), without offset."
    )

    class Meta:
        ref_name = "CourseSession"


class NextSessionSerializer(serializers.Serializer[Any]):
    session_id = serializers.UUIDField()
    position = serializers.IntegerField()
    kind = EnumField(SessionKind)
    scheduled_start = serializers.DateTimeField()

    class Meta:
        ref_name = "CourseNextSession"


class CourseSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    template = serializers.SlugField(help_text="A slug from GET /api/v1/course-templates/.")
    template_name = serializers.CharField()
    modality = EnumField(Modality)
    plan = serializers.SlugField(help_text="The integration plan (GET /api/v1/plans/).")
    start_date = serializers.DateField()
    local_time = time_field("Local time (HH:MM) of every session, in `time_zone`.")
    weekdays = serializers.ListField(child=EnumField(Weekday), help_text="RFC 5545 day codes.")
    time_zone = serializers.CharField(help_text="Your time zone when this was read.")
    maintenance_interval_weeks = serializers.IntegerField(min_value=1, max_value=2)
    status = EnumField(CourseStatus)
    version = serializers.IntegerField()
    dosing_sessions_total = serializers.IntegerField(help_text="Not counting cancelled ones.")
    dosing_sessions_done = serializers.IntegerField(help_text="Begun or completed.")
    next_session = NextSessionSerializer(allow_null=True)
    sessions = CourseSessionSerializer(many=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)

    class Meta:
        ref_name = "Course"


CoursePageSerializer = pages_of("CoursePage", CourseSerializer)


def _next(row: CourseSession | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "session_id": row.session_id,
        "position": row.position,
        "kind": row.session.kind,
        "scheduled_start": row.session.scheduled_start,
    }


def course_data(
    course: Course, *, time_zone: str, now: dt.datetime | None = None
) -> dict[str, Any]:
    """A course with its live sessions (prefetched by the selector: no query here)."""
    zone = scheduling.zone_for(time_zone)
    progress = selectors.course_progress(course, now=now)
    rows: list[CourseSession] = course.live_sessions
    return CourseSerializer(
        {
            "id": course.pk,
            "template": course.template.slug,
            "template_name": course.template.name,
            "modality": course.modality,
            "plan": course.plan.slug,
            "start_date": course.start_date,
            "local_time": course.local_time,
            "weekdays": course.weekdays.split(","),
            "time_zone": time_zone,
            "maintenance_interval_weeks": course.maintenance_interval_weeks,
            "status": course.status,
            "version": course.version,
            "dosing_sessions_total": progress.dosing_total,
            "dosing_sessions_done": progress.dosing_done,
            "next_session": _next(progress.next_session),
            "sessions": [
                {
                    "session_id": row.session_id,
                    "position": row.position,
                    "phase": row.phase.name,
                    "kind": row.session.kind,
                    "status": row.session.status,
                    "scheduled_start": row.session.scheduled_start,
                    "local_start": scheduling.wall_time(row.session.scheduled_start, zone)
                    .replace(tzinfo=None)
                    .strftime(WALL_FORMAT),
                }
                for row in rows
            ],
            "created_at": course.created_at,
            "updated_at": course.updated_at,
            "ended_at": course.ended_at,
        }
    ).data


class TemplatePhaseSerializer(serializers.Serializer[Any]):
    position = serializers.IntegerField()
    name = serializers.CharField()
    session_kind = EnumField(SessionKind)
    rule = serializers.CharField(help_text="RFC 5545 RRULE, expanded from the phase's start.")
    starts_after_days = serializers.IntegerField(
        help_text="Days after the course's first session day."
    )
    weekdays = EnumField(PhaseWeekdays)
    is_maintenance = serializers.BooleanField()

    class Meta:
        ref_name = "CourseTemplatePhase"


class CourseTemplateSerializer(serializers.Serializer[Any]):
    slug = serializers.SlugField()
    name = serializers.CharField()
    description = serializers.CharField()
    modality = EnumField(Modality)
    setting = EnumField(Setting, allow_blank=True)
    plan = serializers.SlugField(source="plan.slug", help_text="Its integration plan by default.")
    min_weekdays = serializers.IntegerField()
    max_weekdays = serializers.IntegerField()
    phases = TemplatePhaseSerializer(many=True)

    class Meta:
        ref_name = "CourseTemplate"


def template_data(template: CourseTemplate) -> dict[str, Any]:
    return CourseTemplateSerializer(template).data


class SharedCourseSerializer(serializers.Serializer[Any]):
    """A course as a therapist sees it: counts and what is next, no notes, no list."""

    share_id = serializers.UUIDField()
    patient_id = serializers.UUIDField()
    course_id = serializers.UUIDField()
    template_name = serializers.CharField()
    modality = EnumField(Modality)
    status = EnumField(CourseStatus)
    shared_session_number = serializers.IntegerField(
        allow_null=True, help_text="Which dosing session of the course the share names."
    )
    dosing_sessions_total = serializers.IntegerField()
    dosing_sessions_done = serializers.IntegerField()
    next_session = NextSessionSerializer(allow_null=True)

    class Meta:
        ref_name = "TherapistCourse"


def shared_course_data(shared: selectors.SharedCourse) -> dict[str, Any]:
    return SharedCourseSerializer(
        {
            "share_id": shared.share_id,
            "patient_id": shared.patient_id,
            "course_id": shared.course.pk,
            "template_name": shared.course.template.name,
            "modality": shared.course.modality,
            "status": shared.course.status,
            "shared_session_number": shared.shared_session_number,
            "dosing_sessions_total": shared.progress.dosing_total,
            "dosing_sessions_done": shared.progress.dosing_done,
            "next_session": _next(shared.progress.next_session),
        }
    ).data


CourseTemplatePageSerializer = pages_of("CourseTemplatePage", CourseTemplateSerializer)
