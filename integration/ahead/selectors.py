"""Reads of the timeline ahead. `reminders_for_sessions` is what the calendar feed calls."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.db.models import Exists, Q

from backend.accounts.models import User
from integration.ahead.models import PlanReminder
from integration.ahead.reminders import Reminder, reminder_for
from integration.models import PatientTimeline
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
