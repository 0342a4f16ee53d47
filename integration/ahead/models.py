"""Preparation reminders: what a clinic asks of a patient around each dosing session, as
data of the integration plan (imported at the end of `integration.models`, so Django sees
it as a model of the `integration` app)."""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.db.models import Q

__all__ = ["REMINDER_OFFSET_LIMIT", "PlanReminder", "PromptMove"]

# Readers widen their search for sessions by this much, so an offset must stay inside it:
# a week covers every preparation step the shipped plans name (the longest is a day).
REMINDER_OFFSET_LIMIT = dt.timedelta(days=7)


class PromptMove(models.TextChoices):
    """What moved a prompt from its step's time when it was planned (`Prompt.moved_by`),
    the reasons the upcoming view gives. Kept here, with what the timeline ahead shows,
    since `integration/models.py` is at its size limit; `integration.models` exports it."""

    QUIET_HOURS = "quiet_hours", "The patient's quiet hours"
    POST_DOSING = "post_dosing", "The quiet period after a dosing session"
    DAILY_CAP = "daily_cap", "The daily limit of prompts"
    PLANNED_LATE = "planned_late", "Its time had passed when planned: due at once"
    # Never stored: the upcoming view says it of a prompt the patient snoozed.
    SNOOZED = "snoozed", "The patient snoozed it"


class PlanReminder(models.Model):
    """One preparation reminder of a plan, at an offset from each dosing session's start
    (negative: before it), for as long as `duration` where it lasts (monitoring).

    A dosing session has no planned end, only a start, so every offset counts from the
    start: the scheduled one for reminders before it, the recorded actual start (once
    there is one) for those at or after it, as a plan's steps do. The title and the
    description are plain words for the patient's own screen; they name no drug and
    carry no journal text, and nothing pushes them to a lock screen.
    """

    id = models.BigAutoField(primary_key=True)
    plan = models.ForeignKey(
        "integration.IntegrationPlan", on_delete=models.CASCADE, related_name="reminders"
    )
    slug = models.SlugField(max_length=64)
    title = models.CharField(max_length=120)
    description = models.TextField()
    offset = models.DurationField(
        help_text="From the dosing session's start; negative before it (at most 7 days "
        "either way). Format: [-]DD HH:MM:SS, e.g. -02:00:00 for two hours before."
    )
    duration = models.DurationField(
        null=True, blank=True, help_text="How long it lasts (monitoring); empty: a moment."
    )

    class Meta:
        ordering = ["plan", "offset", "slug"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "slug"], name="planreminder_unique_slug"),
            models.CheckConstraint(
                condition=Q(offset__gte=-REMINDER_OFFSET_LIMIT)
                & Q(offset__lte=REMINDER_OFFSET_LIMIT),
                name="planreminder_offset_within_a_week",
                violation_error_message="The offset must be within 7 days of the session.",
            ),
            models.CheckConstraint(
                condition=Q(duration__isnull=True) | Q(duration__gt=dt.timedelta(0)),
                name="planreminder_duration_positive",
                violation_error_message="A duration must be longer than zero.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.slug} at {self.offset}"
