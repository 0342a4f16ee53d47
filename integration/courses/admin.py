"""Admin for course templates: a clinic adds or edits its protocols here. Patients'
courses are shown read-only, metadata only (dates, weekdays, status: no journal text)."""

from __future__ import annotations

from django.contrib import admin

from integration.admin import ReadOnlyAdmin
from integration.courses.models import Course, CourseTemplate, CourseTemplatePhase


class CourseTemplatePhaseInline(admin.TabularInline):  # type: ignore[type-arg]
    model = CourseTemplatePhase
    fields = (
        "position",
        "name",
        "session_kind",
        "rule",
        "starts_after_days",
        "weekdays",
        "is_maintenance",
    )
    ordering = ("position",)
    extra = 0


@admin.register(CourseTemplate)
class CourseTemplateAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("slug", "name", "modality", "plan", "is_offered")
    list_filter = ("modality", "is_offered")
    search_fields = ("slug", "name")
    inlines = [CourseTemplatePhaseInline]


@admin.register(Course)
class CourseAdmin(ReadOnlyAdmin):
    list_display = ("id", "template", "start_date", "local_time", "weekdays", "status")
    list_filter = ("status", "template")
    fields = (
        "id",
        "patient",
        "template",
        "modality",
        "plan",
        "start_date",
        "local_time",
        "weekdays",
        "maintenance_interval_weeks",
        "status",
        "created_at",
        "updated_at",
        "ended_at",
    )
    readonly_fields = fields
