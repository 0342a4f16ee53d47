"""Treatment courses: a clinic's protocol template made real for one patient.

A course template is data (a clinic adds its own in the admin): phases, each an RFC 5545
recurrence rule of one kind of session. A course is the patient's instance of it: a start
date, a local time and weekdays; its sessions are ordinary journal sessions, tied to the
course from this side (`CourseSession`), since the journal never imports the care layer.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from journal.models import Modality, SessionKind, Setting, TreatmentSession

__all__ = [
    "Course",
    "CourseSession",
    "CourseStatus",
    "CourseTemplate",
    "CourseTemplatePhase",
    "PhaseWeekdays",
    "Weekday",
]


class CourseTemplate(models.Model):
    """A protocol a clinic schedules: esketamine induction and maintenance, an IV series,
    KAP. Its phases say which sessions a course of it has and when."""

    id = models.BigAutoField(primary_key=True)
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=120)
    description = models.TextField()
    modality = models.CharField(max_length=24, choices=Modality.choices)
    setting = models.CharField(max_length=8, choices=Setting.choices, blank=True)
    # The integration plan a course of this template uses unless the patient picks another.
    plan = models.ForeignKey(
        "integration.IntegrationPlan", on_delete=models.PROTECT, related_name="+"
    )
    # How many weekdays a patient chooses: the induction's twice a week needs two.
    min_weekdays = models.PositiveSmallIntegerField(default=1)
    max_weekdays = models.PositiveSmallIntegerField(default=1)
    # Templates a clinic retires stay for the courses that use them, but are not offered.
    is_offered = models.BooleanField(default=True)

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.CheckConstraint(
                condition=Q(min_weekdays__gte=1)
                & Q(max_weekdays__lte=7)
                & Q(min_weekdays__lte=models.F("max_weekdays")),
                name="coursetemplate_weekdays_range",
            ),
        ]

    def __str__(self) -> str:
        return self.slug


class Weekday(models.TextChoices):
    """RFC 5545 BYDAY codes, Monday first (as Python's `weekday()`)."""

    MO = "MO", "Monday"
    TU = "TU", "Tuesday"
    WE = "WE", "Wednesday"
    TH = "TH", "Thursday"
    FR = "FR", "Friday"
    SA = "SA", "Saturday"
    SU = "SU", "Sunday"


class PhaseWeekdays(models.TextChoices):
    """Which of the course's weekdays a phase's rule takes as its BYDAY."""

    ALL = "all", "All the weekdays the patient chose"
    FIRST = "first", "The weekday of the course's first session"
    NONE = "none", "None: the rule repeats from its own start day"


class CourseTemplatePhase(models.Model):
    """One run of sessions of one kind: an RRULE (RFC 5545, without DTSTART) expanded
    from the course's first session day plus `starts_after_days`, at the course's local
    time, on the weekdays `weekdays` says."""

    id = models.BigAutoField(primary_key=True)
    template = models.ForeignKey(CourseTemplate, on_delete=models.CASCADE, related_name="phases")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=60)
    session_kind = models.CharField(max_length=16, choices=SessionKind.choices)
    rule = models.CharField(
        max_length=200, help_text="An RFC 5545 RRULE with COUNT, e.g. FREQ=WEEKLY;COUNT=8."
    )
    starts_after_days = models.PositiveSmallIntegerField(default=0)
    weekdays = models.CharField(
        max_length=8, choices=PhaseWeekdays.choices, default=PhaseWeekdays.FIRST
    )
    # The maintenance phase can be extended; its interval (every 1 or 2 weeks) is the
    # patient's course's choice.
    is_maintenance = models.BooleanField(default=False)

    class Meta:
        ordering = ["template", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["template", "position"], name="coursephase_unique_position"
            ),
            models.UniqueConstraint(
                fields=["template"],
                condition=Q(is_maintenance=True),
                name="coursephase_one_maintenance",
            ),
            models.CheckConstraint(
                condition=Q(is_maintenance=False) | Q(session_kind="dosing"),
                name="coursephase_maintenance_is_dosing",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template.slug}#{self.position} {self.name}"

    def clean(self) -> None:
        # Imported here: the rules module reads the prompts package, which reads these models.
        from integration.courses.recurrence import check_rule

        check_rule(
            self.rule,
            field="rule",
            weekdays=self.weekdays,
            starts_after_days=self.starts_after_days or 0,
            is_maintenance=self.is_maintenance,
        )


class CourseStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    ENDED = "ended", "Ended"


class Course(models.Model):
    """A patient's course: a template on their calendar."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    template = models.ForeignKey(CourseTemplate, on_delete=models.PROTECT, related_name="+")
    modality = models.CharField(max_length=24, choices=Modality.choices)
    plan = models.ForeignKey(
        "integration.IntegrationPlan", on_delete=models.PROTECT, related_name="+"
    )
    start_date = models.DateField()
    local_time = models.TimeField()
    # RFC 5545 BYDAY codes, comma-separated in week order ("MO,TH").
    weekdays = models.CharField(max_length=32)
    maintenance_interval_weeks = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(
        max_length=8, choices=CourseStatus.choices, default=CourseStatus.ACTIVE
    )
    # The create request as first received (normalized): a repeat with the same id and
    # the same request answers the course; a different request is a conflict.
    created_with = models.JSONField()
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            # The course's plan is the patient's plan while it runs (prompts are planned
            # per account), so a patient has one active course at a time.
            models.UniqueConstraint(
                fields=["patient"], condition=Q(status="active"), name="course_one_active"
            ),
            models.CheckConstraint(
                condition=Q(maintenance_interval_weeks__gte=1)
                & Q(maintenance_interval_weeks__lte=2),
                name="course_maintenance_interval_1_2",
            ),
        ]
        indexes = [models.Index(fields=["patient", "created_at"], name="course_patient_created")]

    # The course's live sessions in course order, set by the selectors' prefetch.
    live_sessions: list[CourseSession]

    def __str__(self) -> str:
        return f"course {self.id}"


class CourseSession(models.Model):
    """A journal session that belongs to a course, at its place in the course."""

    id = models.BigAutoField(primary_key=True)
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="course_sessions")
    session = models.OneToOneField(TreatmentSession, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField()
    phase = models.ForeignKey(CourseTemplatePhase, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["course", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["course", "position"], name="coursesession_unique_position"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.course_id}#{self.position}"
