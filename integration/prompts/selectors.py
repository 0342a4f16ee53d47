"""Reads of the prompt side: the exercise catalog, plans, the patient's timeline and inbox."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from django.db.models import F, Prefetch, Q, QuerySet
from rest_framework.exceptions import NotFound

from backend.accounts.models import User
from integration.models import (
    Exercise,
    IntegrationPlan,
    PatientTimeline,
    PlanStep,
    Prompt,
    PromptStatus,
)

# Finished prompts stay in the inbox this long after they finished.
INBOX_RECENT = dt.timedelta(days=14)

ACTIVE_STATUSES = (
    PromptStatus.SCHEDULED,
    PromptStatus.SENDING,
    PromptStatus.SENT,
    PromptStatus.OPENED,
)


def exercise_list(*, patient: User) -> QuerySet[Exercise]:
    """The catalog: the same for every patient."""
    return Exercise.objects.order_by("slug")


def _steps_prefetch() -> Prefetch[Any]:
    return Prefetch(
        "steps", queryset=PlanStep.objects.select_related("exercise").order_by("position")
    )


def plan_list(*, patient: User) -> QuerySet[IntegrationPlan]:
    """Every plan with its steps in order (two queries for the whole list)."""
    return IntegrationPlan.objects.prefetch_related(_steps_prefetch()).order_by(
        "-is_default", "is_demo", "slug"
    )


@dataclass(frozen=True)
class TimelineView:
    """A patient's timeline settings; the defaults when they never changed them."""

    plan: IntegrationPlan
    disabled_steps: list[uuid.UUID]
    quiet_start: dt.time
    quiet_end: dt.time
    max_prompts_per_day: int
    time_zone: str
    updated_at: dt.datetime | None


def timeline_for_patient(*, patient: User) -> TimelineView:
    """The patient's timeline, or the default one (without writing it) if they have none."""
    timeline = PatientTimeline.objects.select_related("plan").filter(patient=patient).first()
    if timeline is None:
        plan = IntegrationPlan.objects.filter(is_default=True).first()
        if plan is None:
            raise NotFound()
        defaults = PatientTimeline(patient=patient, plan=plan)
        return TimelineView(
            plan=plan,
            disabled_steps=[],
            quiet_start=defaults.quiet_start,
            quiet_end=defaults.quiet_end,
            max_prompts_per_day=defaults.max_prompts_per_day,
            time_zone=patient.time_zone,
            updated_at=None,
        )
    return TimelineView(
        plan=timeline.plan,
        disabled_steps=list(
            timeline.disabled_steps.order_by("position").values_list("public_id", flat=True)
        ),
        quiet_start=timeline.quiet_start,
        quiet_end=timeline.quiet_end,
        max_prompts_per_day=timeline.max_prompts_per_day,
        time_zone=patient.time_zone,
        updated_at=timeline.updated_at,
    )


def prompt_list_for_patient(
    *, patient: User, now: dt.datetime, statuses: Collection[str] | None = None
) -> QuerySet[Prompt]:
    """The patient's inbox: prompts that are due (due_at <= now) and still open, or that
    finished in the last two weeks; newest due first.

    A prompt cancelled before it was ever due was never in the inbox and does not appear.
    """
    recent = now - INBOX_RECENT
    visible = (
        Q(status__in=ACTIVE_STATUSES)
        | Q(status=PromptStatus.COMPLETED, completed_at__gte=recent)
        | Q(status=PromptStatus.SKIPPED, skipped_at__gte=recent)
        | Q(status=PromptStatus.EXPIRED, expired_at__gte=recent)
        | (
            Q(status=PromptStatus.CANCELLED, cancelled_at__gte=recent)
            & Q(cancelled_at__gte=F("due_at"))
        )
    )
    prompts = Prompt.objects.filter(patient=patient, due_at__lte=now).filter(visible)
    if statuses:
        prompts = prompts.filter(status__in=list(statuses))
    return prompts.select_related("exercise").order_by("-due_at", "-id")


def prompt_get_for_patient(*, patient: User, prompt_id: uuid.UUID) -> Prompt:
    """One of the patient's prompts; NotFound alike for missing and not theirs."""
    prompt = Prompt.objects.select_related("exercise").filter(pk=prompt_id, patient=patient).first()
    if prompt is None:
        raise NotFound()
    return prompt
