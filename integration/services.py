"""Writes of the care layer: a patient's timeline, the prompts made from it, push devices.

Prompts are rows, never Celery ETA tasks. `prompts_sync_for_session` runs inside the
transaction of every session write (settings.JOURNAL_SESSION_HOOKS) and rewrites the
patient's still-`scheduled` prompts; the beat dispatcher later claims the due ones.

How a step becomes a prompt (all instants UTC, wall times in the patient's zone):

0. A step marked `is_course_start_only` (the measures before a course) applies only to a
   dosing session that starts a course: one with no other live dosing session of the
   patient in the COURSE_GAP (28 days) before its start. Other steps apply to every live
   dosing session.
1. `nominal_at` = the session's start + the step's offset. Steps at or after the start
   (offset >= 0) count from `actual_start` once it is recorded, earlier ones from
   `scheduled_start`.
2. The step's due time ("planned") is the first instant at or after `nominal_at` that is
   outside the patient's quiet hours and, unless the exercise is safety-relevant, outside
   the post-dosing quiet period [start, start + PROMPT_POST_DOSING_QUIET_HOURS) of every
   live dosing session (`integration.scheduling.settle`). The safety-relevant after-session
   check-in is exempt from that period only: it follows quiet hours like every prompt, so a
   session ending late at night has its check-in at the end of the night.
3. `expires_at` = planned + the step's answer window.
4. A step whose planned time has already passed when its session is created, moved or
   re-synced is due at once (now, moved out of quiet hours) if that is still before
   `expires_at`, and is not created otherwise. It keeps `expires_at`: a late prompt gets
   what is left of its window, not a new one.
5. Overlap: a step is not created when another live prompt (any status but cancelled) of
   the same exercise, for another (session, step), has an answer window [due_at,
   expires_at) that overlaps its own. Steps are placed in order of their due times, so the
   *earlier* prompt stands, normally the previous session's; the later session's step is
   left out (or cancelled, if it was still scheduled). If the earlier prompt is cancelled
   later (its session moved away or was cancelled), the next sync brings the other back.
6. Daily cap: at most `max_prompts_per_day` non-safety prompts are due on one local day.
   Placing in due order, a prompt that would exceed it moves to the first allowed instant
   of the next local day (the end of the night's quiet hours), or further while those days
   are full; its window moves with it. Safety-relevant prompts neither count nor move.
   Prompts that have left `scheduled` count on the day they were due.
7. Prompts that have left `scheduled` (sending, sent, opened, completed, skipped, expired)
   are never rewritten. A still-scheduled prompt that is already due or that the patient
   snoozed keeps its time unless its session moved.

Every sync plans all of the patient's live dosing sessions together (those whose steps
can still matter), so overlaps and the cap come out the same whatever order sessions were
entered in. Syncs of one patient run one at a time: each locks the patient's timeline row.

Demonstration plans (`is_demo`) compress days into minutes, so they skip the post-dosing
quiet period and the daily cap (quiet hours still apply).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import logging
import re
import secrets
import uuid
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from rest_framework.exceptions import NotFound

from backend.accounts.models import Role, User
from backend.errors import ProblemError
from integration import scheduling
from integration.models import (
    AnswerKind,
    CareInvitation,
    CareLink,
    CareLinkEndedBy,
    Device,
    IntegrationPlan,
    PatientTimeline,
    PlanStep,
    Platform,
    Prompt,
    PromptStatus,
    Share,
    SharedEntry,
)
from journal import measures
from journal import services as journal_services
from journal.keys import sealer_for
from journal.measure_items import open_measure
from journal.models import (
    Entry,
    EntryKind,
    Measure,
    SessionKind,
    SessionStatus,
    TreatmentSession,
)

logger = logging.getLogger(__name__)

POST_DOSING_QUIET_HOURS_DEFAULT = 6
MAX_PROMPTS_PER_DAY_LIMITS = (1, 10)
# Quiet hours leave at least four waking hours a day. Longer than a DST jump (1 h, 2 h at
# most anywhere), so the end of quiet hours always exists on the wall clock or lands, as
# the first valid instant after a gap, still inside the waking hours; and a prompt never
# waits more than 20 h + the jump.
MAX_QUIET_HOURS = dt.timedelta(hours=20)

# Statuses a patient can act on from the inbox (a scheduled prompt only once it is due).
ANSWERABLE_STATUSES = (PromptStatus.SENDING, PromptStatus.SENT, PromptStatus.OPENED)

# Prompts whose windows ended this long ago no longer matter for overlaps or the daily cap.
_CONTEXT_LOOKBACK = dt.timedelta(days=2)
# A cap move never pushes a prompt further than this (only a malformed cap could).
_MAX_CAP_MOVES = 366

LIVE_SESSION_STATUSES = (SessionStatus.SCHEDULED, SessionStatus.COMPLETED)

# Four weeks without a dosing session end a course: a KAP course is about six dosing
# sessions over 3-8 weeks, and esketamine's maintenance phase doses every 1-2 weeks
# (SPRAVATO prescribing information, section 2), so a longer pause means treatment
# stopped, and the next dosing session starts a new course with its own measures before it.
COURSE_GAP = dt.timedelta(days=28)


def _invalid(errors: Mapping[str, list[str]]) -> ProblemError:
    """A 400 shaped like the handler's field errors; the messages never echo input."""
    return ProblemError(
        400, "validation", "Some fields are invalid: see 'errors'.", extra={"errors": dict(errors)}
    )


def _invalid_transition(action: str) -> ProblemError:
    return ProblemError(
        409,
        "invalid_transition",
        f"This prompt cannot be {action} in its current state. Read it again for its status.",
    )


# Timeline -------------------------------------------------------------------------------


def post_dosing_quiet_hours() -> float:
    return float(
        getattr(settings, "PROMPT_POST_DOSING_QUIET_HOURS", POST_DOSING_QUIET_HOURS_DEFAULT)
    )


def default_plan() -> IntegrationPlan | None:
    return IntegrationPlan.objects.filter(is_default=True).first()


def _no_default_plan() -> ProblemError:
    # Only before the catalog migration has run (integration 0002_catalog ships one).
    return ProblemError(
        503, "no_default_plan", "No integration plan is set up yet. Try again later."
    )


def _locked_timeline(patient: User) -> PatientTimeline | None:
    """The patient's timeline, locked until commit: syncs of one patient run one at a time.

    None when the patient has none and there is no default plan to give them.
    """
    locked = (
        PatientTimeline.objects.select_for_update(of=("self",))
        .select_related("plan")
        .filter(patient=patient)
    )
    timeline = locked.first()
    if timeline is None:
        plan = default_plan()
        if plan is None:
            logger.warning("no default integration plan: no prompts are scheduled")
            return None
        PatientTimeline.objects.get_or_create(patient=patient, defaults={"plan": plan})
        timeline = locked.get()
    return timeline


def timeline_update(
    *,
    patient: User,
    plan_slug: str | None = None,
    disabled_step_ids: Collection[int] | None = None,
    quiet_start: dt.time | None = None,
    quiet_end: dt.time | None = None,
    max_prompts_per_day: int | None = None,
    now: dt.datetime | None = None,
) -> PatientTimeline:
    """Change how prompts reach the patient (None: unchanged), then re-sync their prompts.

    Choosing another plan without `disabled_step_ids` switches every step of it on.
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
        raise _invalid(errors)
    with transaction.atomic():
        timeline = _locked_timeline(patient)
        if timeline is None:
            raise _no_default_plan()
        is_new_plan = plan is not None and plan.pk != timeline.plan_id
        if plan is not None:
            timeline.plan = plan
        if disabled_step_ids is not None:
            wanted = set(disabled_step_ids)
            found = set(
                PlanStep.objects.filter(plan_id=timeline.plan_id, pk__in=wanted).values_list(
                    "pk", flat=True
                )
            )
            if found != wanted:
                raise _invalid({"disabled_steps": ["Give ids of steps of the chosen plan."]})
        if quiet_start is not None:
            timeline.quiet_start = quiet_start
        if quiet_end is not None:
            timeline.quiet_end = quiet_end
        quiet = scheduling.QuietHours(timeline.quiet_start, timeline.quiet_end)
        if quiet.length > MAX_QUIET_HOURS:
            hours = int(MAX_QUIET_HOURS.total_seconds() // 3600)
            raise _invalid({"quiet_end": [f"Quiet hours can last at most {hours} hours."]})
        if max_prompts_per_day is not None:
            timeline.max_prompts_per_day = max_prompts_per_day
        timeline.updated_at = now
        timeline.save()
        if disabled_step_ids is not None:
            timeline.disabled_steps.set(disabled_step_ids)
        elif is_new_plan:
            timeline.disabled_steps.clear()
        _sync_patient(patient=patient, timeline=timeline, now=now)
    return timeline


# Prompt planning ------------------------------------------------------------------------


def _is_live_dosing(session: TreatmentSession) -> bool:
    return (
        session.kind == SessionKind.DOSING
        and session.status in LIVE_SESSION_STATUSES
        and session.deleted_at is None
    )


def _anchor(session: TreatmentSession, step: PlanStep) -> dt.datetime:
    """What a step counts from: the recorded actual start for steps at or after the start."""
    if step.offset >= dt.timedelta(0) and session.actual_start is not None:
        return session.actual_start
    return session.scheduled_start


def _dosing_start(session: TreatmentSession) -> dt.datetime:
    return session.actual_start or session.scheduled_start


@dataclass
class _Placed:
    """A prompt that stands (existing or about to be written), for overlaps and the cap."""

    exercise_id: int
    due_at: dt.datetime
    expires_at: dt.datetime
    is_safety_relevant: bool


@dataclass
class _Wanted:
    session: TreatmentSession
    step: PlanStep
    nominal_at: dt.datetime
    planned_at: dt.datetime
    expires_at: dt.datetime
    existing: Prompt | None


@dataclass(frozen=True)
class _Rules:
    zone: ZoneInfo
    quiet: scheduling.QuietHours
    blocked: Sequence[tuple[dt.datetime, dt.datetime]]
    cap: int | None

    def settle(self, instant: dt.datetime, *, is_safety_relevant: bool) -> dt.datetime:
        blocked = () if is_safety_relevant else self.blocked
        return scheduling.settle(instant, zone=self.zone, quiet=self.quiet, blocked=blocked)


def _overlaps(
    placed: Sequence[_Placed], exercise_id: int, due: dt.datetime, end: dt.datetime
) -> bool:
    return any(
        other.exercise_id == exercise_id and other.due_at < end and due < other.expires_at
        for other in placed
    )


def _place_under_cap(
    due: dt.datetime, expires: dt.datetime, per_day: Counter[dt.date], rules: _Rules
) -> tuple[dt.datetime, dt.datetime]:
    if rules.cap is None:
        return due, expires
    for _ in range(_MAX_CAP_MOVES):
        if per_day[scheduling.local_date(due, rules.zone)] < rules.cap:
            break
        moved = scheduling.next_day_first_waking(
            due, zone=rules.zone, quiet=rules.quiet, blocked=rules.blocked
        )
        expires += moved - due
        due = moved
    return due, expires


def _sessions_to_plan(
    patient: User, steps: Sequence[PlanStep], now: dt.datetime, changed: TreatmentSession | None
) -> list[TreatmentSession]:
    """The patient's live dosing sessions that can still have prompts: those recent enough
    for a step's window to be open, and those with prompts still scheduled."""
    reach = max((step.offset + step.answer_window for step in steps), default=dt.timedelta(0))
    since = now - max(reach, dt.timedelta(0)) - _CONTEXT_LOOKBACK
    scheduled_sessions = Prompt.objects.filter(
        patient=patient, status=PromptStatus.SCHEDULED
    ).values("session_id")
    sessions = list(
        TreatmentSession.objects.filter(
            patient=patient,
            kind=SessionKind.DOSING,
            status__in=LIVE_SESSION_STATUSES,
            deleted_at__isnull=True,
        )
        .filter(
            Q(scheduled_start__gte=since)
            | Q(actual_start__gte=since)
            | Q(pk__in=scheduled_sessions)
        )
        .order_by("scheduled_start", "id")
    )
    if changed is not None:
        # The caller's copy is the truth, even if the hook ran before it was saved.
        sessions = [session for session in sessions if session.pk != changed.pk]
        if _is_live_dosing(changed):
            sessions.append(changed)
    return sessions


def _course_starts(
    patient: User, sessions: Sequence[TreatmentSession], changed: TreatmentSession | None
) -> set[uuid.UUID]:
    """The sessions among `sessions` that start a course: no other live dosing session of
    the patient started in the COURSE_GAP before them (of two at the same instant, the
    first in id order starts it). Starts are actual ones once recorded."""
    if not sessions:
        return set()
    since = min(_dosing_start(session) for session in sessions) - COURSE_GAP
    until = max(_dosing_start(session) for session in sessions)
    earlier = TreatmentSession.objects.filter(
        patient=patient,
        kind=SessionKind.DOSING,
        status__in=LIVE_SESSION_STATUSES,
        deleted_at__isnull=True,
    ).filter(
        (Q(scheduled_start__gte=since) | Q(actual_start__gte=since))
        & (Q(scheduled_start__lte=until) | Q(actual_start__lte=until))
    )
    if changed is not None:
        earlier = earlier.exclude(pk=changed.pk)  # the caller's copy below is the truth
    by_id = {session.pk: session for session in earlier}
    by_id.update((session.pk, session) for session in sessions)
    ordered = sorted(by_id.values(), key=lambda session: (_dosing_start(session), str(session.pk)))
    starts: set[uuid.UUID] = set()
    previous: TreatmentSession | None = None
    for session in ordered:
        if previous is None or _dosing_start(session) - _dosing_start(previous) > COURSE_GAP:
            starts.add(session.pk)
        previous = session
    return starts


def _rules_for(
    patient: User, timeline: PatientTimeline | None, sessions: Sequence[TreatmentSession]
) -> _Rules:
    is_demo = timeline is not None and timeline.plan.is_demo
    quiet = (
        scheduling.QuietHours(timeline.quiet_start, timeline.quiet_end)
        if timeline is not None
        else scheduling.DEFAULT_QUIET_HOURS
    )
    blocked = (
        []
        if is_demo
        else scheduling.post_dosing_blocks(
            (_dosing_start(session) for session in sessions), hours=post_dosing_quiet_hours()
        )
    )
    return _Rules(
        zone=scheduling.zone_for(patient.time_zone),
        quiet=quiet,
        blocked=blocked,
        cap=None if is_demo or timeline is None else timeline.max_prompts_per_day,
    )


def _is_kept(prompt: Prompt, nominal_at: dt.datetime, now: dt.datetime) -> bool:
    """A scheduled prompt that keeps its time while its session stays put: one already due
    (it may be on the patient's screen) or one the patient snoozed."""
    return (
        prompt.status == PromptStatus.SCHEDULED
        and prompt.nominal_at == nominal_at
        and (prompt.snoozed_until is not None or prompt.due_at <= now)
    )


def _standing(prompts: Sequence[Prompt], kept: set[uuid.UUID]) -> list[_Placed]:
    """What stands before anything is placed: prompts that have left `scheduled` (cancelled
    ones aside) and the kept scheduled ones."""
    return [
        _Placed(
            exercise_id=prompt.exercise_id,
            due_at=prompt.due_at,
            expires_at=prompt.expires_at,
            is_safety_relevant=prompt.exercise.is_safety_relevant,
        )
        for prompt in prompts
        if prompt.status != PromptStatus.CANCELLED
        and (prompt.status != PromptStatus.SCHEDULED or prompt.pk in kept)
    ]


def _place(
    candidates: Sequence[_Wanted], placed: list[_Placed], rules: _Rules, now: dt.datetime
) -> list[tuple[_Wanted, dt.datetime, dt.datetime]]:
    """Due and expiry times for the steps that get a prompt, in order of their due times
    (so the earlier of two overlapping prompts stands, and later ones take the cap's move).
    Steps left out are not in the result."""
    per_day: Counter[dt.date] = Counter(
        scheduling.local_date(item.due_at, rules.zone)
        for item in placed
        if not item.is_safety_relevant
    )
    result: list[tuple[_Wanted, dt.datetime, dt.datetime]] = []
    ordered = sorted(
        candidates,
        key=lambda item: (
            item.planned_at,
            item.session.scheduled_start,
            str(item.session.pk),
            item.step.position,
        ),
    )
    for item in ordered:
        exercise = item.step.exercise
        due, expires = item.planned_at, item.expires_at
        if due < now:
            due = rules.settle(now, is_safety_relevant=exercise.is_safety_relevant)
            if due >= expires:
                continue  # its window has closed
        if _overlaps(placed, exercise.pk, due, expires):
            continue
        if not exercise.is_safety_relevant:
            due, expires = _place_under_cap(due, expires, per_day, rules)
            per_day[scheduling.local_date(due, rules.zone)] += 1
        placed.append(_Placed(exercise.pk, due, expires, exercise.is_safety_relevant))
        result.append((item, due, expires))
    return result


def _write(
    patient: User,
    prompts: Sequence[Prompt],
    placements: Sequence[tuple[_Wanted, dt.datetime, dt.datetime]],
    kept: set[uuid.UUID],
    now: dt.datetime,
) -> None:
    """Create, move, revive and cancel rows. Every change to an existing row is a
    compare-and-swap on its status: a prompt the dispatcher claimed meanwhile is its."""
    to_create: list[Prompt] = []
    standing = set(kept)
    for item, due, expires in placements:
        values: dict[str, Any] = {
            "exercise_id": item.step.exercise_id,
            "nominal_at": item.nominal_at,
            "due_at": due,
            "expires_at": expires,
        }
        prompt = item.existing
        if prompt is None:
            to_create.append(
                Prompt(
                    patient=patient, session=item.session, step=item.step, created_at=now, **values
                )
            )
            continue
        standing.add(prompt.pk)
        if prompt.status == PromptStatus.CANCELLED:
            values.update(status=PromptStatus.SCHEDULED, cancelled_at=None, snoozed_until=None)
        elif prompt.snoozed_until is not None:
            values["snoozed_until"] = None
        elif all(getattr(prompt, name) == value for name, value in values.items()):
            continue
        Prompt.objects.filter(pk=prompt.pk, status=prompt.status).update(**values)
    stale = [
        prompt.pk
        for prompt in prompts
        if prompt.status == PromptStatus.SCHEDULED and prompt.pk not in standing
    ]
    if stale:
        Prompt.objects.filter(pk__in=stale, status=PromptStatus.SCHEDULED).update(
            status=PromptStatus.CANCELLED, cancelled_at=now
        )
    if to_create:
        Prompt.objects.bulk_create(to_create)


def _sync_patient(
    *,
    patient: User,
    timeline: PatientTimeline | None,
    now: dt.datetime,
    changed: TreatmentSession | None = None,
) -> None:
    """Make the patient's still-scheduled prompts match their plan and sessions (the rules
    are in this module's docstring).

    Call inside `transaction.atomic()` with the timeline locked (`_locked_timeline`).
    """
    steps: list[PlanStep] = []
    disabled: set[int] = set()
    if timeline is not None:
        steps = list(timeline.plan.steps.select_related("exercise").order_by("position"))
        disabled = set(timeline.disabled_steps.values_list("pk", flat=True))
    enabled = [step for step in steps if step.pk not in disabled]
    sessions = _sessions_to_plan(patient, steps, now, changed) if enabled else []
    prompts = list(
        Prompt.objects.filter(patient=patient)
        .filter(
            Q(status=PromptStatus.SCHEDULED)
            | Q(session_id__in=[session.pk for session in sessions])
            | (Q(expires_at__gte=now - _CONTEXT_LOOKBACK) & ~Q(status=PromptStatus.CANCELLED))
        )
        .select_related("exercise")
    )
    existing = {(prompt.session_id, prompt.step_id): prompt for prompt in prompts}
    rules = _rules_for(patient, timeline, sessions)
    course_starts = (
        _course_starts(patient, sessions, changed)
        if any(step.is_course_start_only for step in enabled)
        else set()
    )

    wanted: list[_Wanted] = []
    for session in sessions:
        for step in enabled:
            if step.is_course_start_only and session.pk not in course_starts:
                continue  # its scheduled prompt, if any, is left out below: cancelled
            nominal = _anchor(session, step) + step.offset
            planned = rules.settle(nominal, is_safety_relevant=step.exercise.is_safety_relevant)
            wanted.append(
                _Wanted(
                    session=session,
                    step=step,
                    nominal_at=nominal,
                    planned_at=planned,
                    expires_at=planned + step.answer_window,
                    existing=existing.get((session.pk, step.pk)),
                )
            )
    kept = {
        item.existing.pk
        for item in wanted
        if item.existing is not None and _is_kept(item.existing, item.nominal_at, now)
    }
    candidates = [
        item
        for item in wanted
        if item.existing is None
        or item.existing.status == PromptStatus.CANCELLED
        or (item.existing.status == PromptStatus.SCHEDULED and item.existing.pk not in kept)
    ]
    placements = _place(candidates, _standing(prompts, kept), rules, now)
    _write(patient, prompts, placements, kept, now)


def prompts_sync_for_session(*, session: TreatmentSession, now: dt.datetime | None = None) -> None:
    """Bring the prompts of a session's patient in line after the session was created,
    changed or deleted (a hook of journal's session services, inside their transaction).

    A live dosing session (scheduled or completed) gets one prompt per enabled step; a
    moved one moves its still-scheduled prompts; a cancelled, deleted or no longer dosing
    session has its still-scheduled prompts cancelled. The patient's other sessions are
    planned again too, since overlaps and the daily cap depend on their neighbours.
    """
    now = now or timezone.now()
    if not _is_live_dosing(session) and not (
        Prompt.objects.filter(session_id=session.pk, status=PromptStatus.SCHEDULED).exists()
    ):
        return
    patient = session.patient
    with transaction.atomic():
        timeline = _locked_timeline(patient)
        _sync_patient(patient=patient, timeline=timeline, now=now, changed=session)


def prompts_sync_for_patient(*, patient: User, now: dt.datetime | None = None) -> None:
    """Plan all of a patient's upcoming prompts again (after a change of plan, quiet hours,
    cap or time zone)."""
    now = now or timezone.now()
    with transaction.atomic():
        timeline = _locked_timeline(patient)
        _sync_patient(patient=patient, timeline=timeline, now=now)


def prompts_expire_overdue(*, now: dt.datetime) -> int:
    """Expire prompts whose answer window has closed unanswered; returns how many.

    One UPDATE whose WHERE is the compare-and-swap: on PostgreSQL a row changed meanwhile
    (completed, say) is checked again against it and left alone. `sending` prompts are
    the dispatcher's until their lease runs out.
    """
    return Prompt.objects.filter(
        status__in=(PromptStatus.SCHEDULED, PromptStatus.SENT, PromptStatus.OPENED),
        expires_at__lte=now,
    ).update(status=PromptStatus.EXPIRED, expired_at=now)


# Prompt transitions from the inbox ------------------------------------------------------


def _prompt_for_patient(patient: User, prompt_id: uuid.UUID) -> Prompt:
    prompt = (
        Prompt.objects.select_related("exercise", "session")
        .filter(pk=prompt_id, patient=patient)
        .first()
    )
    if prompt is None:
        # The same answer for a prompt that does not exist and one that is not theirs.
        raise NotFound()
    return prompt


def _answerable(now: dt.datetime) -> Q:
    """Prompts the patient can see and act on: sent or on its way, opened, or scheduled
    and due (the inbox shows a due prompt before its notification arrives)."""
    return Q(status__in=ANSWERABLE_STATUSES) | Q(status=PromptStatus.SCHEDULED, due_at__lte=now)


def _is_answerable(prompt: Prompt, now: dt.datetime) -> bool:
    """The same condition as `_answerable`, for a prompt in hand."""
    return prompt.status in ANSWERABLE_STATUSES or (
        prompt.status == PromptStatus.SCHEDULED and prompt.due_at <= now
    )


def _transition(
    patient: User, prompt_id: uuid.UUID, action: str, now: dt.datetime, **changes: Any
) -> Prompt:
    """Compare-and-swap an answerable prompt of the patient's into a new state."""
    prompt = _prompt_for_patient(patient, prompt_id)
    updated = (
        Prompt.objects.filter(pk=prompt.pk, patient=patient)
        .filter(_answerable(now))
        .update(**changes)
    )
    if updated != 1:
        raise _invalid_transition(action)
    prompt.refresh_from_db()
    return prompt


def prompt_open(*, patient: User, prompt_id: uuid.UUID, now: dt.datetime | None = None) -> Prompt:
    """The patient opened the prompt (sent, or scheduled and due -> opened). Opening an
    opened prompt again changes nothing."""
    now = now or timezone.now()
    prompt = _prompt_for_patient(patient, prompt_id)
    if prompt.status == PromptStatus.OPENED:
        return prompt
    return _transition(patient, prompt_id, "opened", now, status=PromptStatus.OPENED, opened_at=now)


def prompt_skip(*, patient: User, prompt_id: uuid.UUID, now: dt.datetime | None = None) -> Prompt:
    """The patient let this one go (due, sent or opened -> skipped)."""
    now = now or timezone.now()
    return _transition(
        patient, prompt_id, "skipped", now, status=PromptStatus.SKIPPED, skipped_at=now
    )


def prompt_snooze(
    *,
    patient: User,
    prompt_id: uuid.UUID,
    until: dt.datetime,
    now: dt.datetime | None = None,
) -> Prompt:
    """Ask again later: back to `scheduled`, due at `until`, so the dispatcher sends it
    again. `until` must be in the future and before the prompt expires."""
    now = now or timezone.now()
    prompt = _prompt_for_patient(patient, prompt_id)
    if not _is_answerable(prompt, now):
        raise _invalid_transition("snoozed")
    if not now < until < prompt.expires_at:
        raise _invalid({"until": ["Give a time in the future and before the prompt expires."]})
    return _transition(
        patient,
        prompt_id,
        "snoozed",
        now,
        status=PromptStatus.SCHEDULED,
        due_at=until,
        snoozed_until=until,
        claim_id=None,
        lease_expires_at=None,
    )


def _entry_session_link(prompt: Prompt, kind: str, now: dt.datetime) -> uuid.UUID | None:
    """The session an answer links to, when journal allows the link (its rules in
    journal.services._validate_session_link): an intention only to an upcoming dosing
    session, a reflection only to one that has taken place, other kinds to any live one."""
    session = prompt.session
    if session.deleted_at is not None:
        return None
    is_dosing = session.kind == SessionKind.DOSING
    if kind == EntryKind.INTENTION:
        is_upcoming = session.status == SessionStatus.SCHEDULED and session.scheduled_start > now
        return session.pk if is_dosing and is_upcoming else None
    if kind == EntryKind.REFLECTION:
        has_taken_place = session.status == SessionStatus.COMPLETED or (
            session.status == SessionStatus.SCHEDULED and session.scheduled_start <= now
        )
        return session.pk if is_dosing and has_taken_place else None
    return session.pk


def prompt_complete(
    *,
    patient: User,
    prompt_id: uuid.UUID,
    body: str,
    title: str = "",
    tags: Sequence[str] = (),
    mood: int | None = None,
    entry_id: uuid.UUID | None = None,
) -> Prompt:
    """Answer the prompt: write the journal entry (sealed, through journal's entry_create)
    and mark the prompt completed with it, in one transaction.

    With `entry_id` (the client's own UUID for the entry) a repeat after a lost response
    answers the completed prompt instead of 409.
    """
    now = timezone.now()
    prompt = _prompt_for_patient(patient, prompt_id)
    if (
        entry_id is not None
        and prompt.status == PromptStatus.COMPLETED
        and prompt.entry_id == entry_id
    ):
        return prompt
    exercise = prompt.exercise
    if exercise.answer_kind == AnswerKind.MEASURE or not exercise.entry_kind:
        raise ProblemError(
            409,
            "invalid_transition",
            "This prompt is answered with a questionnaire: send `answers`, not a journal entry.",
        )
    if not _is_answerable(prompt, now):
        raise _invalid_transition("completed")
    with transaction.atomic():
        created = journal_services.entry_create(
            patient=patient,
            kind=exercise.entry_kind,
            id=entry_id,
            session_id=_entry_session_link(prompt, exercise.entry_kind, now),
            title=title,
            body=body,
            tags=tags,
            mood=mood,
        )
        updated = (
            Prompt.objects.filter(pk=prompt.pk, patient=patient)
            .filter(_answerable(now))
            .update(status=PromptStatus.COMPLETED, completed_at=now, entry=created.record)
        )
        if updated != 1:
            raise _invalid_transition("completed")  # rolls the entry back with it
    prompt.refresh_from_db()
    return prompt


@dataclass(frozen=True)
class MeasureAnswer:
    """A measure prompt answered: the prompt (completed) and the measure it recorded."""

    prompt: Prompt
    measure: Measure


def prompt_complete_measure(
    *,
    patient: User,
    prompt_id: uuid.UUID,
    answers: Sequence[Any],
    difficulty: Any = None,
    measure_id: uuid.UUID | None = None,
) -> MeasureAnswer:
    """Answer a measure prompt: score and store the questionnaire (journal's
    measure_create, linked to the prompt's session while it exists) and mark the prompt
    completed with it, in one transaction. A PHQ-9 whose item 9 is above 0 runs the safety
    hooks inside that transaction (`settings.JOURNAL_SAFETY_HOOKS`): a prompt that cannot
    be completed rolls the measure and what the hooks wrote back together.

    With `measure_id` (the client's own UUID for the measure) a repeat after a lost
    response answers the completed prompt and its measure instead of 409.
    """
    now = timezone.now()
    prompt = _prompt_for_patient(patient, prompt_id)
    if (
        measure_id is not None
        and prompt.status == PromptStatus.COMPLETED
        and prompt.measure_id == measure_id
    ):
        repeated = Measure.objects.filter(pk=measure_id, patient=patient).first()
        if repeated is not None:
            opened = open_measure(repeated, sealer=sealer_for(patient))
            return MeasureAnswer(prompt=prompt, measure=opened)
    exercise = prompt.exercise
    if exercise.answer_kind != AnswerKind.MEASURE or not exercise.instrument:
        raise ProblemError(
            409,
            "invalid_transition",
            "This prompt is answered with a journal entry: send `body`, not `answers`.",
        )
    # A bad submission is a 400 whatever the prompt's state: checked before the 409s.
    errors = measures.validate(exercise.instrument, answers, difficulty)
    if errors:
        raise _invalid(errors)
    if not _is_answerable(prompt, now):
        raise _invalid_transition("completed")
    session = prompt.session
    with transaction.atomic():
        created = journal_services.measure_create(
            patient=patient,
            instrument=exercise.instrument,
            answers=answers,
            id=measure_id,
            difficulty=difficulty,
            session_id=session.pk if session.deleted_at is None else None,
        )
        updated = (
            Prompt.objects.filter(pk=prompt.pk, patient=patient)
            .filter(_answerable(now))
            .update(status=PromptStatus.COMPLETED, completed_at=now, measure=created.record)
        )
        if updated != 1:
            raise _invalid_transition("completed")  # rolls the measure back with it
    prompt.refresh_from_db()
    return MeasureAnswer(prompt=prompt, measure=created.record)


# Push devices ---------------------------------------------------------------------------

MAX_ACTIVE_DEVICES = 20
TOKEN_SUFFIX_CHARS = 6
ANDROID_TOKEN_MAX_CHARS = 4096
APNS_TOKEN_MAX_CHARS = 200
WEB_ENDPOINT_MAX_CHARS = 2048
_HEX_TOKEN = re.compile(r"[0-9a-fA-F]{64,200}")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")
# A P-256 public key uncompressed (RFC 8291: 65 bytes) and a 16-byte auth secret.
_P256DH_BYTES = 65
_AUTH_BYTES = 16


@dataclass(frozen=True)
class Registered:
    device: Device
    is_new: bool


def _base64url_bytes(value: Any) -> bytes | None:
    if not isinstance(value, str) or not _BASE64URL.fullmatch(value):
        return None
    text = value.rstrip("=")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def _web_subscription(token: Any) -> str | None:
    """A Web Push subscription (PushSubscription.toJSON()) as canonical JSON, or None."""
    if isinstance(token, str):
        try:
            token = json.loads(token)
        except ValueError:
            return None
    if not isinstance(token, Mapping) or set(token) - {"endpoint", "keys", "expirationTime"}:
        return None
    endpoint, keys = token.get("endpoint"), token.get("keys")
    if not isinstance(endpoint, str) or len(endpoint) > WEB_ENDPOINT_MAX_CHARS:
        return None
    try:
        URLValidator(schemes=["https"])(endpoint)
    except DjangoValidationError:
        return None
    if not isinstance(keys, Mapping) or set(keys) != {"p256dh", "auth"}:
        return None
    p256dh, auth = _base64url_bytes(keys["p256dh"]), _base64url_bytes(keys["auth"])
    if p256dh is None or len(p256dh) != _P256DH_BYTES or p256dh[0] != 0x04:
        return None
    if auth is None or len(auth) != _AUTH_BYTES:
        return None
    subscription = {"endpoint": endpoint, "keys": {"p256dh": keys["p256dh"], "auth": keys["auth"]}}
    return json.dumps(subscription, sort_keys=True, separators=(",", ":"))


def _canonical_token(platform: str, token: Any) -> str:
    """The token as stored (and hashed), or a 400 naming the expected form (never the
    token itself)."""
    if platform == Platform.IOS:
        if isinstance(token, str) and _HEX_TOKEN.fullmatch(token):
            return token.lower()
        message = "An APNs device token: 64 to 200 hexadecimal characters."
    elif platform == Platform.ANDROID:
        if (
            isinstance(token, str)
            and 0 < len(token) <= ANDROID_TOKEN_MAX_CHARS
            and token.isprintable()
            and not any(character.isspace() for character in token)
        ):
            return token
        message = (
            f"An FCM registration token: 1 to {ANDROID_TOKEN_MAX_CHARS} characters without spaces."
        )
    elif platform == Platform.WEB:
        subscription = _web_subscription(token)
        if subscription is not None:
            return subscription
        message = (
            "A Web Push subscription: {endpoint (an https URL), keys: {p256dh (a P-256 "
            "public key), auth (16 bytes)}}, both keys base64url."
        )
    else:
        raise _invalid({"platform": ["Choose one of: " + ", ".join(Platform.values) + "."]})
    raise _invalid({"token": [message]})


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_suffix(device: Device) -> str:
    """The last characters of the token (of a Web Push endpoint) to tell devices apart;
    never the whole token."""
    token = device.token
    if device.platform == Platform.WEB:
        try:
            token = str(json.loads(token)["endpoint"])
        except (ValueError, KeyError, TypeError):
            token = ""
    return token[-TOKEN_SUFFIX_CHARS:]


def _retire(queryset: Any, reason: str, now: dt.datetime) -> int:
    updated: int = queryset.filter(is_active=True).update(
        is_active=False, retired_at=now, retired_reason=reason
    )
    return updated


def device_register(*, patient: User, platform: str, token: Any) -> Registered:
    """Register a push destination. The same token again answers the existing device; a
    token another account registered (a shared or handed-on phone) moves to this one."""
    canonical = _canonical_token(platform, token)
    digest = token_hash(canonical)
    now = timezone.now()
    with transaction.atomic():
        current = Device.objects.select_for_update().filter(token_hash=digest, is_active=True)
        device = current.first()
        if device is not None and device.user_id == patient.pk and device.platform == platform:
            return Registered(device, is_new=False)
        if device is not None:
            _retire(Device.objects.filter(pk=device.pk), "reassigned", now)
        active = Device.objects.filter(user=patient, is_active=True).order_by("-created_at")
        surplus = list(active.values_list("pk", flat=True)[MAX_ACTIVE_DEVICES - 1 :])
        if surplus:
            _retire(Device.objects.filter(pk__in=surplus), "replaced", now)
        device = Device(
            user=patient, platform=platform, token=canonical, token_hash=digest, created_at=now
        )
        try:
            with transaction.atomic():
                device.save(force_insert=True)
        except IntegrityError:
            # The same token registered by a concurrent request: answer that one.
            existing = Device.objects.filter(token_hash=digest, is_active=True, user=patient)
            found = existing.first()
            if found is None:
                raise
            return Registered(found, is_new=False)
    return Registered(device, is_new=True)


def device_retire(*, patient: User, device_id: uuid.UUID, reason: str = "user") -> Device:
    """Stop sending to a device (it stays, retired, in the history). Retiring a retired
    device changes nothing."""
    device = Device.objects.filter(pk=device_id, user=patient).first()
    if device is None:
        raise NotFound()
    _retire(Device.objects.filter(pk=device.pk), reason, timezone.now())
    device.refresh_from_db()
    return device


# Care links and shares ------------------------------------------------------------------
#
# A therapist invites with a short code; the patient redeems it and so makes the link. The
# patient then shares chosen entries and/or one dosing session with a linked therapist
# until an expiry. What a therapist may read is decided in `integration.access` only.

# Unambiguous characters (no I/L/1, O/0, U/V confusion when read aloud or typed from paper).
INVITATION_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"
INVITATION_CODE_LENGTH = 8
INVITATION_TTL = dt.timedelta(hours=72)
SHARE_DEFAULT_DURATION = dt.timedelta(days=7)
SHARE_MAX_DURATION = dt.timedelta(days=90)
SHARE_MAX_ENTRIES = 200

INVALID_INVITATION_DETAIL = (
    "This code cannot be used. Check it, or ask your therapist for a new one."
)


def _invitation_code_normalized(code: str) -> str:
    return "".join(character for character in code.upper() if character.isalnum())


def invitation_code_hash(code: str) -> str:
    return hashlib.sha256(_invitation_code_normalized(code).encode()).hexdigest()


@dataclass(frozen=True)
class NewInvitation:
    invitation: CareInvitation
    code: str  # shown once; only its hash is stored


def invitation_create(*, therapist: User, now: dt.datetime | None = None) -> NewInvitation:
    """A single-use code, valid for 72 hours, for one patient to link to this therapist."""
    now = now or timezone.now()
    for _ in range(5):
        code = "".join(
            secrets.choice(INVITATION_CODE_ALPHABET) for _ in range(INVITATION_CODE_LENGTH)
        )
        try:
            with transaction.atomic():
                invitation = CareInvitation.objects.create(
                    therapist=therapist,
                    code_hash=invitation_code_hash(code),
                    created_at=now,
                    expires_at=now + INVITATION_TTL,
                )
        except IntegrityError:
            continue  # the same code is open already (30^8 codes: about never)
        return NewInvitation(invitation=invitation, code=code)
    raise ProblemError(503, "unavailable", "No invitation code could be made. Try again.")


def _invalid_invitation() -> ProblemError:
    # One answer for a wrong, used or expired code: a guesser learns nothing.
    return ProblemError(400, "invalid_invitation_code", INVALID_INVITATION_DETAIL)


def _already_linked() -> ProblemError:
    return ProblemError(409, "already_linked", "You are already linked to this therapist.")


def _usable_invitations(now: dt.datetime) -> QuerySet[CareInvitation]:
    return CareInvitation.objects.filter(
        redeemed_at__isnull=True,
        expires_at__gt=now,
        therapist__role=Role.THERAPIST,
        therapist__is_active=True,
    )


def invitation_preview(*, patient: User, code: str) -> CareInvitation:
    """The invitation behind a code, to show the patient whose it is before they confirm;
    400 for any unusable code, 409 when they are linked to that therapist already."""
    invitation = (
        _usable_invitations(timezone.now())
        .select_related("therapist")
        .filter(code_hash=invitation_code_hash(code))
        .first()
    )
    if invitation is None:
        raise _invalid_invitation()
    if CareLink.objects.filter(
        patient=patient, therapist_id=invitation.therapist_id, ended_at__isnull=True
    ).exists():
        raise _already_linked()
    return invitation


def care_link_create(*, patient: User, code: str, safety_alerts_enabled: bool = False) -> CareLink:
    """Redeem an invitation: the patient and the therapist are linked, and the code is
    used up. 400 for an unusable code, 409 when already linked (the code stays usable)."""
    now = timezone.now()
    with transaction.atomic():
        invitation = (
            _usable_invitations(now)
            .select_for_update(of=("self",))
            .select_related("therapist")
            .filter(code_hash=invitation_code_hash(code))
            .first()
        )
        if invitation is None:
            raise _invalid_invitation()
        try:
            with transaction.atomic():
                link = CareLink.objects.create(
                    patient=patient,
                    therapist=invitation.therapist,
                    invitation=invitation,
                    safety_alerts_enabled=safety_alerts_enabled,
                    created_at=now,
                )
        except IntegrityError:
            raise _already_linked() from None  # a live link of this pair exists
        invitation.redeemed_at = now
        invitation.redeemed_by = patient
        invitation.save(update_fields=["redeemed_at", "redeemed_by"])
    return link


def care_link_end(*, user: User, link_id: uuid.UUID) -> CareLink:
    """Either side ends the link; every share under it stops being readable at once (the
    access check requires a live link). Ending an ended link changes nothing."""
    side = Q(patient=user) if user.is_patient else Q(therapist=user)
    with transaction.atomic():
        link = CareLink.objects.select_for_update().filter(side, pk=link_id).first()
        if link is None:
            raise NotFound()
        if link.ended_at is None:
            link.ended_at = timezone.now()
            link.ended_by = (
                CareLinkEndedBy.PATIENT if user.is_patient else CareLinkEndedBy.THERAPIST
            )
            link.save(update_fields=["ended_at", "ended_by"])
    return link


def _live_session(patient: User, session_id: uuid.UUID) -> TreatmentSession | None:
    return TreatmentSession.objects.filter(
        patient=patient, pk=session_id, deleted_at__isnull=True
    ).first()


def share_create(
    *,
    patient: User,
    care_link_id: uuid.UUID,
    entry_ids: Sequence[uuid.UUID] = (),
    dosing_session_id: uuid.UUID | None = None,
    integration_session_id: uuid.UUID | None = None,
    expires_at: dt.datetime | None = None,
    include_measures: bool = False,
) -> Share:
    """Share chosen entries, everything attached to one dosing session, and/or the
    patient's measures (every PHQ-9 and GAD-7 score, later ones too, with the start times
    of their dosing sessions) with a linked therapist, until `expires_at` (default: 7 days
    after the integration session, or 7 days from now without one; at most 90 days from
    now).

    Every id must name the patient's own live record; an error names the field, never
    whether the id exists for someone else.
    """
    now = timezone.now()
    wanted_entries = list(dict.fromkeys(entry_ids))
    errors: dict[str, list[str]] = {}
    if not wanted_entries and dosing_session_id is None and not include_measures:
        errors["entries"] = ["Choose entries, a dosing session, your measures, or several."]
    if len(wanted_entries) > SHARE_MAX_ENTRIES:
        errors["entries"] = [f"Share at most {SHARE_MAX_ENTRIES} entries at once."]
    with transaction.atomic():
        # Locked, so the link cannot end between this check and the share's insert.
        link = (
            CareLink.objects.select_for_update()
            .filter(pk=care_link_id, patient=patient, ended_at__isnull=True)
            .first()
        )
        if link is None:
            errors["care_link"] = ["Give the id of one of your active care links."]
        entries: list[Entry] = []
        if wanted_entries and "entries" not in errors:
            entries = list(
                Entry.objects.filter(
                    patient=patient, pk__in=wanted_entries, deleted_at__isnull=True
                )
            )
            if len(entries) != len(wanted_entries):
                errors["entries"] = ["Give ids of your own entries."]
        dosing = None
        if dosing_session_id is not None:
            dosing = _live_session(patient, dosing_session_id)
            if dosing is None or dosing.kind != SessionKind.DOSING:
                errors["dosing_session"] = ["Give the id of one of your dosing sessions."]
        integration = None
        if integration_session_id is not None:
            integration = _live_session(patient, integration_session_id)
            if (
                integration is None
                or integration.kind != SessionKind.INTEGRATION
                or integration.status != SessionStatus.SCHEDULED
                or integration.scheduled_start <= now
            ):
                errors["integration_session"] = [
                    "Give the id of one of your upcoming integration sessions."
                ]
        latest = now + SHARE_MAX_DURATION
        if expires_at is None:
            start = integration.scheduled_start if integration is not None else now
            expires_at = min(start + SHARE_DEFAULT_DURATION, latest)
        elif expires_at <= now:
            errors["expires_at"] = ["Give a time in the future."]
        elif expires_at > latest:
            errors["expires_at"] = ["A share lasts at most 90 days."]
        if errors or link is None:
            raise _invalid(errors)
        share = Share.objects.create(
            care_link=link,
            patient=patient,
            therapist_id=link.therapist_id,
            dosing_session=dosing,
            integration_session=integration,
            include_measures=include_measures,
            created_at=now,
            expires_at=expires_at,
        )
        SharedEntry.objects.bulk_create(
            SharedEntry(share=share, entry=entry, version_at_share=entry.version, shared_at=now)
            for entry in entries
        )
    return share


def share_revoke(*, patient: User, share_id: uuid.UUID) -> Share:
    """The therapist's next request can no longer read it. Revoking again changes nothing."""
    with transaction.atomic():
        share = Share.objects.select_for_update().filter(pk=share_id, patient=patient).first()
        if share is None:
            raise NotFound()
        if share.revoked_at is None:
            share.revoked_at = timezone.now()
            share.save(update_fields=["revoked_at"])
    return share
