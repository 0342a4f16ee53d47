"""Reads of the calendar feed: its settings, the feed a URL's secret names, and what the
feed holds. Every read of the items is a fixed number of queries, however many there are."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone

from backend.accounts.models import User
from integration.calendar_feed.models import CalendarFeed
from integration.calendar_feed.reminders import (
    SESSION_FIELDS,
    FeedReminder,
    reminders_for_sessions,
)
from integration.calendar_feed.tokens import token_digest
from integration.models import PatientTimeline, Prompt
from journal.models import SessionKind, TreatmentSession

# What the feed holds: sessions from this long ago on (the recent past stays visible, a
# cancelled session with it, marked cancelled, so a calendar that kept it updates it) ...
SESSION_PAST = dt.timedelta(days=90)
# ... prompts due from this long ago on, and up to this far ahead.
PROMPT_PAST = dt.timedelta(days=14)
PROMPT_AHEAD = dt.timedelta(days=366)
# Bounds on one answer, far above a course (six to a few dozen sessions, a handful of
# prompts each): a feed's size and cost never grow without limit.
MAX_SESSIONS = 500
MAX_PROMPTS = 2000


def calendar_feed_for_patient(*, patient: User) -> CalendarFeed:
    """The patient's feed settings: an unsaved, switched-off feed if they never had one."""
    feed = CalendarFeed.objects.filter(patient=patient).first()
    return feed if feed is not None else CalendarFeed(patient=patient)


def calendar_feed_for_token(*, token: str) -> CalendarFeed | None:
    """The live feed whose URL carries this secret, with its patient; None for any other
    secret: unknown, rotated away, turned off, or of an account that is closed. All of
    these take the same path, one query by digest, so neither the answer nor its time
    tells them apart."""
    return (
        CalendarFeed.objects.select_related("patient")
        .filter(
            token_hash=token_digest(token),
            patient__is_active=True,  # a deactivated account serves nothing
            patient__erased_at__isnull=True,  # an erased one has nothing left
        )
        .first()
    )


@dataclass(frozen=True)
class FeedContent:
    """What one read of a feed holds."""

    patient: User
    plain_titles: bool
    sessions: list[TreatmentSession]
    reminders: Mapping[uuid.UUID, Sequence[FeedReminder]]
    prompts: list[Prompt]
    # When the patient's plan settings last changed: it moves prompts (a revision of each).
    timeline_updated_at: dt.datetime | None
    # When the feed's settings last changed (its titles: a revision of each prompt).
    feed_updated_at: dt.datetime | None = None


def calendar_feed_content(*, feed: CalendarFeed, now: dt.datetime | None = None) -> FeedContent:
    """The sessions (every kind; deleted ones never), their reminders and the prompts of
    the feed's patient, in time order."""
    now = now or timezone.now()
    patient = feed.patient
    sessions = list(
        TreatmentSession.objects.filter(
            patient=patient,
            deleted_at__isnull=True,
            scheduled_start__gte=now - SESSION_PAST,
        )
        .only(
            "id",
            "kind",
            "modality",
            "scheduled_start",
            "status",
            "version",
            "created_at",
            "updated_at",
            *SESSION_FIELDS,
        )
        .order_by("scheduled_start", "id")[:MAX_SESSIONS]
    )
    prompts = list(
        Prompt.objects.filter(
            Q(due_at__gte=now - PROMPT_PAST) & Q(due_at__lte=now + PROMPT_AHEAD),
            patient=patient,
            session__deleted_at__isnull=True,  # a deleted session's prompts go with it
        )
        .select_related("exercise", "session")
        .only(
            "id",
            "status",
            "due_at",
            "created_at",
            "sending_at",
            "sent_at",
            "opened_at",
            "completed_at",
            "skipped_at",
            "expired_at",
            "cancelled_at",
            "answered_late_at",
            "exercise__title",
            "exercise__estimated_minutes",
            "session__updated_at",
        )
        .order_by("due_at", "id")[:MAX_PROMPTS]
    )
    timeline_updated_at = (
        PatientTimeline.objects.filter(patient=patient).values_list("updated_at", flat=True).first()
    )
    dosing = [session for session in sessions if session.kind == SessionKind.DOSING]
    return FeedContent(
        patient=patient,
        plain_titles=feed.plain_titles,
        sessions=sessions,
        reminders=reminders_for_sessions(patient=patient, sessions=dosing) if dosing else {},
        prompts=prompts,
        timeline_updated_at=timeline_updated_at,
        feed_updated_at=feed.updated_at,
    )
