"""The patient's timeline settings: which plan, which steps, quiet hours, a daily cap.
Every change re-plans the patient's prompts in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection

from django.db import transaction
from django.utils import timezone

from backend.accounts.models import User
from backend.errors import ProblemError, invalid_fields
from backend.problem_codes import ProblemCode
from integration.models import (
    IntegrationPlan,
    PatientTimeline,
    PlanStep,
)
from integration.prompts import scheduling
from integration.prompts.planning import sync_patient_locked, timeline_select_for_update

MAX_PROMPTS_PER_DAY_LIMITS = (1, 10)
# Quiet hours leave at least four waking hours a day. Longer than a DST jump (1 h, 2 h at
# most anywhere), so the end of quiet hours always exists on the wall clock or lands, as
# the first valid instant after a gap, still inside the waking hours; and a prompt never
# waits more than 20 h + the jump.
MAX_QUIET_HOURS = dt.timedelta(hours=20)

# Timeline -------------------------------------------------------------------------------


def _no_default_plan() -> ProblemError:
    # Only before the catalog migration has run (integration 0002_catalog ships one).
    return ProblemError(
        503, ProblemCode.NO_DEFAULT_PLAN, "No integration plan is set up yet. Try again later."
    )


def timeline_update(
    *,
    patient: User,
    plan_slug: str | None = None,
    disabled_step_ids: Collection[uuid.UUID] | None = None,
    quiet_start: dt.time | None = None,
    quiet_end: dt.time | None = None,
    max_prompts_per_day: int | None = None,
    now: dt.datetime | None = None,
) -> PatientTimeline:
    """Change how prompts reach the patient (None: unchanged), then re-sync their prompts.

    `disabled_step_ids` are the steps' public ids (`PlanStep.public_id`). Choosing another
    plan without them switches every step of it on.
    """
    now = now or timezone.now()
    errors: dict[str, list[str]] = {}
    plan: IntegrationPlan | None = None
    if plan_slug is not None:
        plan = IntegrationPlan.objects.filter(slug=plan_slug).first()
        if plan is None:
            errors["plan"] = ["No such plan: choose one from GET /api/v1/plans/."]
    low, high = MAX_PROMPTS_PER_DAY_LIMITS
    if max_prompts_per_day is not None and not low <= max_prompts_per_day <= high:
        errors["max_prompts_per_day"] = [f"Give a number from {low} to {high}."]
    if errors:
        raise invalid_fields(errors)
    with transaction.atomic():
        timeline = timeline_select_for_update(patient)
        if timeline is None:
            raise _no_default_plan()
        is_new_plan = plan is not None and plan.pk != timeline.plan_id
        if plan is not None:
            timeline.plan = plan
        disabled_pks: list[int] = []
        if disabled_step_ids is not None:
            wanted = set(disabled_step_ids)
            found = dict(
                PlanStep.objects.filter(plan_id=timeline.plan_id, public_id__in=wanted).values_list(
                    "public_id", "pk"
                )
            )
            if set(found) != wanted:
                raise invalid_fields({"disabled_steps": ["Give ids of steps of the chosen plan."]})
            disabled_pks = list(found.values())
        if quiet_start is not None:
            timeline.quiet_start = quiet_start
        if quiet_end is not None:
            timeline.quiet_end = quiet_end
        quiet = scheduling.QuietHours(timeline.quiet_start, timeline.quiet_end)
        if quiet.length > MAX_QUIET_HOURS:
            hours = int(MAX_QUIET_HOURS.total_seconds() // 3600)
            raise invalid_fields({"quiet_end": [f"Quiet hours can last at most {hours} hours."]})
        if max_prompts_per_day is not None:
            timeline.max_prompts_per_day = max_prompts_per_day
        timeline.updated_at = now
        timeline.save()
        if disabled_step_ids is not None:
            timeline.disabled_steps.set(disabled_pks)
        elif is_new_plan:
            timeline.disabled_steps.clear()
        sync_patient_locked(patient=patient, timeline=timeline, now=now)
    return timeline
