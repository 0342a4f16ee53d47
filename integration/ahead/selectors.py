"""Reads of the timeline ahead. `reminders_for_sessions` is what the calendar feed calls."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

from django.db.models import Exists, Q

from backend.accounts.models import User
from integration.ahead.models import REMINDER_OFFSET_LIMIT, PlanReminder
from integration.ahead.reminders import Reminder, ends_at, reminder_for
from integration.models import PatientTimeline, Prompt, PromptStatus
from journal.models import SessionKind, SessionStatus, TreatmentSession


def plan_reminders_for_patient(*, patient: User) -> list[PlanReminder]:
    """The reminders of the patient's plan (the default plan until they chose one), in
    offset order: one query."""
    chosen = PatientTimeline.objects.filter(patient=patient)
    return list(
        PlanReminder.objects.filter(
            Q(plan_id__in=chosen.values("plan_id")) | (Q(plan__is_default=True) & ~Exists(chosen))
        ).order_by("offset", "slug")
    )


def has_reminders(session: TreatmentSession, patient: User) -> bool:
    """Only the patient's own dosing sessions that still take place have reminders."""
    return (
        session.patient_id == patient.pk
        and session.kind == SessionKind.DOSING
        and session.status != SessionStatus.CANCELLED
        and session.deleted_at is None
    )


def reminders_for_sessions(
    patient: User, sessions: Iterable[TreatmentSession]
) -> dict[uuid.UUID, list[Reminder]]:
    """The preparation reminders of each of the patient's dosing sessions among `sessions`
    that is neither cancelled nor deleted, by session id, each list in time order.

    Sessions of other patients and other kinds are left out (no key). One query whatever
    the number of sessions; none when no session qualifies.
    """
    live = [session for session in sessions if has_reminders(session, patient)]
    if not live:
        return {}
    rules = plan_reminders_for_patient(patient=patient)
    return {
        session.pk: sorted(
            (reminder_for(session, rule) for rule in rules),
            key=lambda reminder: (reminder.at, reminder.slug),
        )
        for session in live
    }


class ItemKind(IntEnum):
    """The kinds of item in the upcoming view; the value orders items at the same instant
    (a session before the reminders at its start, a prompt last)."""

    SESSION = 0
    REMINDER = 1
    PROMPT = 2


@dataclass(frozen=True)
class UpcomingItem:
    """One item of the patient's upcoming view. `at` (UTC) is a prompt's due time, a
    session's scheduled start or a reminder's time; `key` tells apart items of one kind at
    one instant, so (at, kind, key) orders the list totally (the cursor's position)."""

    kind: ItemKind
    at: dt.datetime
    key: str
    session_id: uuid.UUID
    session: TreatmentSession | None = None
    prompt: Prompt | None = None
    reminder: Reminder | None = None
    reminder_ends_at: dt.datetime | None = None

    @property
    def position(self) -> tuple[dt.datetime, int, str]:
        return (self.at, int(self.kind), self.key)


def upcoming_for_patient(
    *, patient: User, start: dt.datetime, end: dt.datetime
) -> list[UpcomingItem]:
    """What the patient can expect in [start, end), in time order: their dosing sessions
    that still take place (scheduled or completed, neither cancelled nor deleted), the
    preparation reminders of those sessions, and their prompts still scheduled.

    Three queries whatever the number of items (two without a session near the range):
    the caller bounds the range, so the work is bounded too.
    """
    # A reminder lies within a week of its session: look that far beyond the range.
    near_start, near_end = start - REMINDER_OFFSET_LIMIT, end + REMINDER_OFFSET_LIMIT
    sessions = list(
        TreatmentSession.objects.filter(
            patient=patient,
            kind=SessionKind.DOSING,
            deleted_at__isnull=True,
        )
        .exclude(status=SessionStatus.CANCELLED)
        .filter(
            Q(scheduled_start__gte=near_start, scheduled_start__lt=near_end)
            | Q(actual_start__gte=near_start, actual_start__lt=near_end)
        )
        .order_by("scheduled_start", "id")
    )
    items = [
        UpcomingItem(
            ItemKind.SESSION, session.scheduled_start, str(session.pk), session.pk, session
        )
        for session in sessions
        if start <= session.scheduled_start < end
    ]
    if sessions:
        rules = plan_reminders_for_patient(patient=patient)
        for session in sessions:
            for rule in rules:
                reminder = reminder_for(session, rule)
                if start <= reminder.at < end:
                    items.append(
                        UpcomingItem(
                            ItemKind.REMINDER,
                            reminder.at,
                            f"{session.pk}:{rule.slug}",
                            session.pk,
                            reminder=reminder,
                            reminder_ends_at=ends_at(reminder, rule.duration),
                        )
                    )
    prompts = Prompt.objects.filter(
        patient=patient, status=PromptStatus.SCHEDULED, due_at__gte=start, due_at__lt=end
    ).select_related("exercise")
    items.extend(
        UpcomingItem(
            ItemKind.PROMPT, prompt.due_at, str(prompt.pk), prompt.session_id, prompt=prompt
        )
        for prompt in prompts
    )
    return sorted(items, key=lambda item: item.position)
