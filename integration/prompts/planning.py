"""Planning: how the steps of a patient's plan become prompts on their timeline.

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
   live dosing session (`integration.prompts.scheduling.settle`). The safety-relevant after-session
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
7. Prompts that have left `scheduled` are never rewritten, but one waiting to retry its
   push (`sending`, in no live lease) is planned as a scheduled one. A scheduled prompt
   already due or snoozed by the patient keeps its time unless its session moved.
8. A prompt records what moved it from `nominal_at` in `moved_by` (PromptMove: quiet
   hours, the post-dosing quiet period, the daily cap, planned after its time had
   passed), which the patient's upcoming view shows.

Every sync plans all of the patient's live dosing sessions together (those whose steps
can still matter), so overlaps and the cap come out the same whatever order sessions were
entered in. Syncs of one patient run one at a time: each locks the patient's timeline row.

Demonstration plans (`is_demo`) compress days into minutes, so they skip the post-dosing
quiet period and the daily cap (quiet hours still apply).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from backend.accounts.models import User
from integration.changes import change_of, prompt_changes_take
from integration.models import (
    IntegrationPlan,
    PatientTimeline,
    PlanStep,
    Prompt,
    PromptMove,
    PromptStatus,
)
from integration.prompts import scheduling
from integration.prompts.notify import prompts_changed_notify
from journal.models import (
    SessionKind,
    SessionStatus,
    TreatmentSession,
)
from journal.records import changes_lock

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

logger = logging.getLogger(
    "integration.services"
)  # the name before the split; kept for log filters

POST_DOSING_QUIET_HOURS_DEFAULT = 6


def post_dosing_quiet_hours() -> float:
    return float(
        getattr(settings, "PROMPT_POST_DOSING_QUIET_HOURS", POST_DOSING_QUIET_HOURS_DEFAULT)
    )


def default_plan() -> IntegrationPlan | None:
    return IntegrationPlan.objects.filter(is_default=True).first()


def timeline_select_for_update(patient: User) -> PatientTimeline | None:
    """The patient's timeline, locked until commit: syncs of one patient run one at a time.

    None when the patient has none and there is no default plan to give them. The
    patient's change counter is locked first (a session write holds it already), since
    every writer of a patient takes the counter before anything else of theirs.
    """
    changes_lock([patient.pk])
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


# Prompt planning ------------------------------------------------------------------------


def _unheld(now: dt.datetime) -> Q:
    """What planning may rewrite (rule 7): a claim or renewed lease meanwhile wins the CAS."""
    waiting = Q(claim_id__isnull=True) | Q(lease_expires_at__lt=now)
    return Q(status=PromptStatus.SCHEDULED) | (Q(status=PromptStatus.SENDING) & waiting)


def _is_open(prompt: Prompt, now: dt.datetime) -> bool:
    """`_unheld`, for a prompt as read."""
    return prompt.status == PromptStatus.SCHEDULED or (
        prompt.status == PromptStatus.SENDING
        and (prompt.claim_id is None or (prompt.lease_expires_at or now) < now)
    )


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
    moved_by: frozenset[str] = frozenset()


@dataclass(frozen=True)
class _Rules:
    zone: ZoneInfo
    quiet: scheduling.QuietHours
    blocked: Sequence[tuple[dt.datetime, dt.datetime]]
    cap: int | None

    def settle(
        self, instant: dt.datetime, *, is_safety_relevant: bool
    ) -> tuple[dt.datetime, frozenset[str]]:
        """The allowed instant, and what moved it there (PromptMove values)."""
        blocked = () if is_safety_relevant else self.blocked
        return scheduling.settle_explained(
            instant, zone=self.zone, quiet=self.quiet, blocked=blocked
        )


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
    scheduled_sessions = Prompt.objects.filter(_unheld(now), patient=patient).values("session_id")
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
    """An open prompt that keeps its time while its session stays put: one already due (it
    may be on the patient's screen) or one the patient snoozed."""
    return (
        _is_open(prompt, now)
        and prompt.nominal_at == nominal_at
        and (prompt.snoozed_until is not None or prompt.due_at <= now)
    )


def _standing(prompts: Sequence[Prompt], kept: set[uuid.UUID], now: dt.datetime) -> list[_Placed]:
    """What stands before anything is placed: prompts not open (cancelled ones aside) and
    the kept open ones."""
    return [
        _Placed(
            exercise_id=prompt.exercise_id,
            due_at=prompt.due_at,
            expires_at=prompt.expires_at,
            is_safety_relevant=prompt.exercise.is_safety_relevant,
        )
        for prompt in prompts
        if prompt.status != PromptStatus.CANCELLED
        and (not _is_open(prompt, now) or prompt.pk in kept)
    ]


_Placement = tuple[_Wanted, dt.datetime, dt.datetime, frozenset[str]]


def _place(
    candidates: Sequence[_Wanted], placed: list[_Placed], rules: _Rules, now: dt.datetime
) -> list[_Placement]:
    """Due and expiry times for the steps that get a prompt, in order of their due times
    (so the earlier of two overlapping prompts stands, and later ones take the cap's move).
    Steps left out are not in the result."""
    per_day: Counter[dt.date] = Counter(
        scheduling.local_date(item.due_at, rules.zone)
        for item in placed
        if not item.is_safety_relevant
    )
    result: list[_Placement] = []
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
        due, expires, moved_by = item.planned_at, item.expires_at, item.moved_by
        if due < now:
            due, moved_by = rules.settle(now, is_safety_relevant=exercise.is_safety_relevant)
            moved_by |= {PromptMove.PLANNED_LATE}
            if due >= expires:
                continue  # its window has closed
        if _overlaps(placed, exercise.pk, due, expires):
            continue
        if not exercise.is_safety_relevant:
            capped, expires = _place_under_cap(due, expires, per_day, rules)
            if capped != due:
                due, moved_by = capped, moved_by | {PromptMove.DAILY_CAP}
            per_day[scheduling.local_date(due, rules.zone)] += 1
        placed.append(_Placed(exercise.pk, due, expires, exercise.is_safety_relevant))
        result.append((item, due, expires, moved_by))
    return result


def _write(
    patient: User,
    prompts: Sequence[Prompt],
    placements: Sequence[_Placement],
    kept: set[uuid.UUID],
    now: dt.datetime,
) -> bool:
    """Create, move, revive and cancel rows, each change a compare-and-swap on status and
    claim (a prompt the dispatcher claimed meanwhile is its), each row its own change number
    from one counter update (`integration.changes`). Returns whether anything changed."""
    to_create: list[Prompt] = []
    updates: list[tuple[Prompt, dict[str, Any]]] = []
    standing = set(kept)
    for item, due, expires, moved_by in placements:
        values: dict[str, Any] = {
            "exercise_id": item.step.exercise_id,
            "nominal_at": item.nominal_at,
            "due_at": due,
            "expires_at": expires,
            "moved_by": sorted(moved_by),
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
        if prompt.status != PromptStatus.SCHEDULED:  # cancelled, or waiting to retry
            values.update(status=PromptStatus.SCHEDULED, cancelled_at=None, snoozed_until=None)
            values.update(claim_id=None, lease_expires_at=None, attempts=0)
        elif prompt.snoozed_until is not None:
            values["snoozed_until"] = None
        elif all(getattr(prompt, name) == value for name, value in values.items()):
            continue
        updates.append((prompt, values))
    stale = [prompt.pk for prompt in prompts if _is_open(prompt, now) and prompt.pk not in standing]
    written = [prompt.pk for prompt, _ in updates] + stale + [prompt.pk for prompt in to_create]
    if not written:
        return False
    numbers = prompt_changes_take((pk, patient.pk) for pk in written)
    changed = 0
    for prompt, values in updates:
        changed += Prompt.objects.filter(
            pk=prompt.pk,
            status=prompt.status,
            claim_id=prompt.claim_id,
            lease_expires_at=prompt.lease_expires_at,
        ).update(change=numbers[prompt.pk], **values)
    if stale:
        changed += Prompt.objects.filter(_unheld(now), pk__in=stale).update(
            status=PromptStatus.CANCELLED,
            cancelled_at=now,
            claim_id=None,
            lease_expires_at=None,
            change=change_of({pk: numbers[pk] for pk in stale}),
        )
    for prompt in to_create:
        prompt.change = numbers[prompt.pk]
    if to_create:
        Prompt.objects.bulk_create(to_create)
    return bool(changed or to_create)


def sync_patient_locked(
    *,
    patient: User,
    timeline: PatientTimeline | None,
    now: dt.datetime,
    changed: TreatmentSession | None = None,
) -> None:
    """Make the patient's still-scheduled prompts match their plan and sessions (the rules
    are in this module's docstring).

    Call inside `transaction.atomic()` with the timeline locked (`timeline_select_for_update`).
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
            _unheld(now)
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
            planned, moved_by = rules.settle(
                nominal, is_safety_relevant=step.exercise.is_safety_relevant
            )
            wanted.append(
                _Wanted(
                    session=session,
                    step=step,
                    nominal_at=nominal,
                    planned_at=planned,
                    expires_at=planned + step.answer_window,
                    existing=existing.get((session.pk, step.pk)),
                    moved_by=moved_by,
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
        or (_is_open(item.existing, now) and item.existing.pk not in kept)
    ]
    placements = _place(candidates, _standing(prompts, kept, now), rules, now)
    if _write(patient, prompts, placements, kept, now):
        prompts_changed_notify(patient_id=str(patient.pk))


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
        Prompt.objects.filter(_unheld(now), session_id=session.pk).exists()
    ):
        return
    patient = session.patient
    with transaction.atomic():
        timeline = timeline_select_for_update(patient)
        sync_patient_locked(patient=patient, timeline=timeline, now=now, changed=session)


def prompts_sync_for_patient(*, patient: User, now: dt.datetime | None = None) -> None:
    """Plan all of a patient's upcoming prompts again (after a change of plan, quiet hours,
    cap or time zone)."""
    now = now or timezone.now()
    with transaction.atomic():
        timeline = timeline_select_for_update(patient)
        sync_patient_locked(patient=patient, timeline=timeline, now=now)


EXPIRE_BATCH_SIZE = 500


def prompts_expire_overdue(*, now: dt.datetime, batch_size: int = EXPIRE_BATCH_SIZE) -> int:
    """Expire prompts whose answer window has closed unanswered; returns how many.

    Batch by batch, each in its own transaction of a fixed number of statements: read the
    batch, take its change numbers (one counter update per patient, counters before rows),
    then one UPDATE whose WHERE is the compare-and-swap: on PostgreSQL a row changed
    meanwhile (completed, say) is checked again against it and left alone, its number
    unused. `sending` prompts are the dispatcher's until their lease runs out.
    """
    overdue = Q(
        status__in=(PromptStatus.SCHEDULED, PromptStatus.SENT, PromptStatus.OPENED),
        expires_at__lte=now,
    )
    total = 0
    while True:
        with transaction.atomic():
            rows = list(
                Prompt.objects.filter(overdue)
                .order_by("expires_at", "id")
                .values_list("id", "patient_id")[:batch_size]
            )
            if not rows:
                return total
            numbers = prompt_changes_take(rows)
            expired = (
                Prompt.objects.filter(overdue)
                .filter(pk__in=list(numbers))
                .update(status=PromptStatus.EXPIRED, expired_at=now, change=change_of(numbers))
            )
        total += expired
        if len(rows) < batch_size or expired == 0:
            return total
