"""Admin for the care layer. Staff edit the catalog and the plans; prompts and devices are
shown read-only, metadata only: no push token (nor its hash) and no journal text."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from integration.ahead.models import PlanReminder
from integration.models import (
    DeliveryAttempt,
    Device,
    Exercise,
    IntegrationPlan,
    PlanStep,
    Prompt,
    SafetyAlert,
)


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """For support: look, never change, add or delete."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Exercise)
class ExerciseAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "slug",
        "title",
        "answer_kind",
        "entry_kind",
        "instrument",
        "is_safety_relevant",
    )
    list_filter = ("answer_kind", "entry_kind", "is_safety_relevant")
    search_fields = ("slug", "title")


class PlanStepInline(admin.TabularInline):  # type: ignore[type-arg]
    model = PlanStep
    fields = ("position", "exercise", "offset", "answer_window", "is_course_start_only")
    ordering = ("position",)
    extra = 0


class PlanReminderInline(admin.TabularInline):  # type: ignore[type-arg]
    """A clinic's preparation reminders: its fasting times, monitoring and the rest."""

    model = PlanReminder
    fields = ("slug", "title", "description", "offset", "duration")
    ordering = ("offset", "slug")
    extra = 0


@admin.register(IntegrationPlan)
class IntegrationPlanAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("slug", "name", "is_default", "is_demo")
    list_filter = ("is_default", "is_demo")
    search_fields = ("slug", "name")
    inlines = (PlanStepInline, PlanReminderInline)


class DeliveryAttemptInline(admin.TabularInline):  # type: ignore[type-arg]
    model = DeliveryAttempt
    fields = ("attempted_at", "provider", "device", "outcome", "status_code")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Prompt)
class PromptAdmin(ReadOnlyAdmin):
    list_display = ("id", "patient_id", "exercise", "status", "due_at", "expires_at", "attempts")
    list_filter = ("status", "exercise")
    fields = (
        "id",
        "patient",
        "session",
        "step",
        "exercise",
        "status",
        "nominal_at",
        "due_at",
        "moved_by",
        "expires_at",
        "snoozed_until",
        "attempts",
        "last_error",
        "lease_expires_at",
        "entry",
        "measure",
        "created_at",
        "sending_at",
        "sent_at",
        "opened_at",
        "completed_at",
        "skipped_at",
        "expired_at",
        "cancelled_at",
    )
    readonly_fields = fields
    list_select_related = ("exercise",)
    show_full_result_count = False
    inlines = (DeliveryAttemptInline,)


@admin.register(Device)
class DeviceAdmin(ReadOnlyAdmin):
    list_display = ("id", "user_id", "platform", "is_active", "created_at", "retired_reason")
    list_filter = ("platform", "is_active", "retired_reason")
    fields = ("id", "user", "platform", "is_active", "created_at", "retired_at", "retired_reason")
    readonly_fields = fields
    show_full_result_count = False


@admin.register(SafetyAlert)
class SafetyAlertAdmin(ReadOnlyAdmin):
    """Delivery state for support (a failed alert is also logged at ERROR): who, when,
    how it went. Not the measure or the reason: those are the patient's health data."""

    list_display = ("id", "therapist_id", "status", "attempts", "created_at", "sent_at")
    list_filter = ("status",)
    fields = (
        "id",
        "patient",
        "therapist",
        "care_link",
        "status",
        "attempts",
        "last_error",
        "next_attempt_at",
        "lease_expires_at",
        "created_at",
        "sending_at",
        "sent_at",
        "cancelled_at",
        "acknowledged_at",
    )
    readonly_fields = fields
    show_full_result_count = False
