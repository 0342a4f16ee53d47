"""Give the demo accounts a course of care to look at in the dashboard. Safe to run again.

    python manage.py seed_demo_care [--url http://127.0.0.1:8000] [--allow-without-debug]

Run `manage.py seed_demo` first (it makes the demo patient and therapist). This links
them, writes a past dosing session for the patient (an intention, two reflections, an
exercise answer and the after-effects, through journal's and the timeline's services, so
everything is sealed as the API seals it), a private note that is not shared, and shares
the dosing session with the therapist for an upcoming integration session.

The course around it: three earlier weekly dosing sessions, and a PHQ-9 and a GAD-7 about
weekly over five weeks (a baseline before the first session, improving after it to
response and remission), shared too, so the therapist sees the charts.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from backend.accounts import selectors as account_selectors
from backend.accounts.management.commands.seed_demo import PATIENT_EMAIL, THERAPIST_EMAIL
from backend.accounts.management.demo_command import DemoCommand
from backend.accounts.models import User
from integration.care import links, selectors, shares
from integration.courses import recurrence
from integration.courses import services as course_services
from integration.courses.models import Course, CourseStatus
from integration.models import AnswerKind, CareLink, Share
from integration.prompts import inbox, scheduling, timeline
from integration.prompts import selectors as prompts_selectors
from journal import access, instruments
from journal.entries import services as entries_services
from journal.measures import services as measures_services
from journal.models import (
    Entry,
    EntryKind,
    Modality,
    SessionKind,
    SessionStatus,
    Setting,
    TreatmentSession,
)
from journal.sessions import services

# The demo rows get ids derived from the patient's, so a second run finds them.
_DEMO_NAMESPACE = uuid.UUID("5b0c7a52-5d0e-4c55-9a57-2f3c8a1d7e41")

INTENTION = (
    "I want to meet the tightness in my chest with curiosity instead of bracing against it, "
    "and to listen for what my younger self needed to hear."
)
# (title, body, hours after the dosing session's start)
REFLECTIONS = (
    (
        "Evening after the session",
        "A lot of colour at first, then a long stretch of quiet, like floating above a lake. "
        "The tightness came back once and I could stay with it for a while. I cried, and it "
        "felt like relief rather than sadness.",
        6,
    ),
    (
        "The next day",
        "Reading my intention again: I did meet the tightness, at least for a moment. What "
        "stays with me is the sentence 'you were doing your best'. I want to talk about my "
        "father in the integration session.",
        26,
    ),
)
EXERCISE_ANSWER = (
    "Warmth in my hands and feet, tension in my jaw that eased when I noticed it. My "
    "shoulders are still high; the chest feels lighter than last week."
)
PRIVATE_NOTE = (
    "Private, not for sharing: the argument with M. on Sunday. I am not ready to bring it "
    "into therapy yet."
)
AFTER_EFFECTS = {
    "dissociation": "moderate",
    "nausea": "mild",
    "dizziness": "mild",
    "headache": "none",
    "raised_blood_pressure": "none",
    "anxiety": "mild",
}

DEMO_PLAN = "demo-minutes"

# The earlier dosing sessions of the demo course, days before the shared one's start.
EARLIER_DOSING_DAYS = (21, 14, 7)
# (days before now, PHQ-9 total, GAD-7 total): a baseline three days before the first
# dosing session, then about weekly, improving to response and remission. Item 9 stays 0,
# so the demo raises no safety alert.
DEMO_MEASURES = (
    (26, 19, 14),
    (19, 15, 12),
    (12, 11, 9),
    (5, 7, 6),
    (1, 4, 4),
)


def _demo_id(patient: User, name: str) -> uuid.UUID:
    return uuid.uuid5(_DEMO_NAMESPACE, f"{patient.pk}:{name}")


def _answers(form: instruments.InstrumentDefinition, total: int) -> list[int]:
    """Item answers adding up to `total`, spread evenly, the safety item left at 0."""
    scored = [item.number for item in form.items if item.number != form.safety_item]
    answers = dict.fromkeys((item.number for item in form.items), 0)
    for index, number in enumerate(scored):
        answers[number] = total // len(scored) + (1 if index < total % len(scored) else 0)
    return [answers[item.number] for item in form.items]


def _backdate(entry: Entry, when: dt.datetime) -> None:
    # Demo data only: the services stamp entries with the time of writing, and a demo
    # written in one second would show the intention after the reflections it preceded.
    Entry.objects.filter(pk=entry.pk).update(created_at=when, updated_at=when)


class Command(DemoCommand):
    help = (
        "Link the demo therapist and patient, write a shared dosing session with an "
        "intention, reflections, an exercise answer and after-effects, and print the "
        "dashboard address. Refuses to run unless DEBUG is on."
    )

    writes = "writes demo journal data"

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--url",
            default="http://127.0.0.1:8000",
            help="The server's address, for the printed dashboard link.",
        )

    def handle_demo(self, **options: Any) -> None:
        patient = account_selectors.user_get_by_email(email=PATIENT_EMAIL)
        therapist = account_selectors.user_get_by_email(email=THERAPIST_EMAIL)
        if patient is None or therapist is None or not therapist.is_therapist:
            raise CommandError("Run `manage.py seed_demo` first: the demo accounts are missing.")
        now = timezone.now()
        with transaction.atomic():
            # The demonstration plan counts in minutes and the demo has no quiet hours, so
            # a dosing session created a few minutes ahead shows its prompts at once.
            timeline.timeline_update(
                patient=patient,
                plan_slug=DEMO_PLAN,
                quiet_start=dt.time(0, 0),
                quiet_end=dt.time(0, 0),
            )
            link = self._care_link(patient, therapist)
            dosing = self._dosing_session(patient, now)
            self._earlier_dosing_sessions(patient, dosing)
            self._measures(patient, now)
            integration = self._integration_session(patient, now)
            share = self._share(patient, link, dosing, integration.pk, now)
            course = self._course(patient, now)
        url = options["url"].rstrip("/") + settings.DASHBOARD_URL
        lines = [
            "",
            "Demo care (therapist dashboard)",
            "===============================",
            f"  {therapist.display_name} is linked to {patient.display_name}, who shared the",
            f"  dosing session of {dosing.scheduled_start:%Y-%m-%d} for the integration session",
            f"  of {integration.scheduled_start:%Y-%m-%d %H:%M} UTC (share {share.pk}),",
            "  with five weeks of PHQ-9 and GAD-7 scores (the share's Scores page).",
            f"  Dashboard: {url}",
            f"  Sign in as {therapist.email} with the password and a current code above.",
            f"  {patient.display_name} allows safety alerts to reach {therapist.display_name}:",
            '  set a country (PATCH /api/v1/me/ {"country": "DE"}), answer a PHQ-9 with',
            "  item 9 above 0 (POST /api/v1/measures/) to see its crisis lines, and change",
            f"  consent with PATCH /api/v1/care-links/{link.pk}/",
            '  {"safety_alerts_enabled": false} (or true).',
            f"  {patient.display_name} has an esketamine course starting {course.start_date}",
            f"  ({course.weekdays} at {course.local_time:%H:%M}): GET /api/v1/courses/{course.pk}/",
            "",
        ]
        self.stdout.write("\n".join(lines))

    def _care_link(self, patient: User, therapist: User) -> CareLink:
        live = selectors.care_links_for_patient(patient=patient).filter(
            therapist=therapist, ended_at__isnull=True
        )
        link = live.first()
        if link is None:
            invitation = links.invitation_create(therapist=therapist)
            return links.care_link_create(
                patient=patient, code=invitation.code, safety_alerts_enabled=True
            )
        if not link.safety_alerts_enabled:
            # The demo starts with consent given, so withdrawing it can be tried; a link
            # from an earlier run gets it back, recorded like any other decision.
            links.care_link_consent_set(
                patient=patient, link_id=link.pk, safety_alerts_enabled=True
            )
        return link

    def _dosing_session(self, patient: User, now: dt.datetime) -> TreatmentSession:
        session_id = _demo_id(patient, "dosing")
        existing = (
            access.session_queryset_for_patient(patient=patient).filter(pk=session_id).first()
        )
        if existing is not None:
            return existing
        # Two days and a bit ago, so the next-day reflection and the body scan are due now.
        start = (now - dt.timedelta(hours=49)).replace(minute=0, second=0, microsecond=0)
        # An intention can be linked only to an upcoming session: write the session as it
        # was planned, the intention for it, then record that it took place.
        session = services.session_create(
            patient=patient,
            id=session_id,
            kind=SessionKind.DOSING,
            scheduled_start=now + dt.timedelta(hours=1),
            modality=Modality.ESKETAMINE_NASAL,
            setting=Setting.CLINIC,
        ).record
        intention = entries_services.entry_create(
            patient=patient,
            id=_demo_id(patient, "intention"),
            kind=EntryKind.INTENTION,
            session_id=session.pk,
            title="Meeting the tightness",
            body=INTENTION,
            tags=["body", "family"],
        ).record
        session = services.session_update(
            patient=patient,
            session_id=session.pk,
            data={
                "scheduled_start": start,
                "actual_start": start,
                "actual_end": start + dt.timedelta(hours=2, minutes=30),
                "status": SessionStatus.COMPLETED,
                "after_effects": AFTER_EFFECTS,
                "overall_rating": 7,
            },
            expected_versions=None,
        )
        _backdate(intention, start - dt.timedelta(days=3))
        for number, (title, body, hours_after) in enumerate(REFLECTIONS):
            reflection = entries_services.entry_create(
                patient=patient,
                id=_demo_id(patient, f"reflection-{number}"),
                kind=EntryKind.REFLECTION,
                session_id=session.pk,
                title=title,
                body=body,
                mood=6 + number,
                intention_ids=[intention.pk],
            ).record
            _backdate(reflection, start + dt.timedelta(hours=hours_after))
        self._exercise_answer(patient, session.pk)
        entries_services.entry_create(
            patient=patient,
            id=_demo_id(patient, "private-note"),
            kind=EntryKind.NOTE,
            title="Not for the session",
            body=PRIVATE_NOTE,
        )
        return session

    def _exercise_answer(self, patient: User, session_id: uuid.UUID) -> None:
        """Answer the session's due exercise prompt (the body scan), as the app would; if
        quiet hours hold it back right now, write the answer as a plain entry."""
        due = [
            prompt
            for prompt in prompts_selectors.prompt_list_for_patient(
                patient=patient, now=timezone.now()
            )
            if prompt.session_id == session_id
            and prompt.exercise.answer_kind == AnswerKind.ENTRY
            and prompt.exercise.entry_kind == EntryKind.EXERCISE
        ]
        if due:
            inbox.prompt_complete(
                patient=patient,
                prompt_id=due[0].pk,
                entry_id=_demo_id(patient, "exercise"),
                title=due[0].exercise.title,
                body=EXERCISE_ANSWER,
                mood=7,
            )
            return
        entries_services.entry_create(
            patient=patient,
            id=_demo_id(patient, "exercise"),
            kind=EntryKind.EXERCISE,
            session_id=session_id,
            title="Body scan",
            body=EXERCISE_ANSWER,
            mood=7,
        )

    def _earlier_dosing_sessions(self, patient: User, shared: TreatmentSession) -> None:
        """Weekly dosing sessions before the shared one, already taken place."""
        start = shared.actual_start or shared.scheduled_start
        for number, days in enumerate(EARLIER_DOSING_DAYS, start=1):
            session_id = _demo_id(patient, f"dosing-earlier-{number}")
            if access.session_queryset_for_patient(patient=patient).filter(pk=session_id).exists():
                continue
            begun = start - dt.timedelta(days=days)
            services.session_create(
                patient=patient,
                id=session_id,
                kind=SessionKind.DOSING,
                scheduled_start=begun,
                actual_start=begun,
                actual_end=begun + dt.timedelta(hours=2, minutes=30),
                status=SessionStatus.COMPLETED,
                modality=Modality.ESKETAMINE_NASAL,
                setting=Setting.CLINIC,
            )

    def _measures(self, patient: User, now: dt.datetime) -> None:
        """The course's PHQ-9 and GAD-7, through journal's measure_create (scored there)."""
        existing = set(
            access.measure_queryset_for_patient(patient=patient).values_list("pk", flat=True)
        )
        for number, (days, phq9, gad7) in enumerate(DEMO_MEASURES):
            taken_at = (now - dt.timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
            for form, total in ((instruments.PHQ9, phq9), (instruments.GAD7, gad7)):
                measure_id = _demo_id(patient, f"{form.code}-{number}")
                if measure_id in existing:
                    continue
                measures_services.measure_create(
                    patient=patient,
                    id=measure_id,
                    instrument=form.code,
                    answers=_answers(form, total),
                    taken_at=taken_at,
                )

    def _integration_session(self, patient: User, now: dt.datetime) -> TreatmentSession:
        """The integration session two days ahead; moved forward again once it has passed."""
        session_id = _demo_id(patient, "integration")
        start = (now + dt.timedelta(days=2)).replace(hour=15, minute=0, second=0, microsecond=0)
        existing = (
            access.session_queryset_for_patient(patient=patient).filter(pk=session_id).first()
        )
        if existing is None:
            return services.session_create(
                patient=patient, id=session_id, kind=SessionKind.INTEGRATION, scheduled_start=start
            ).record
        if existing.scheduled_start <= now or existing.status != SessionStatus.SCHEDULED:
            return services.session_update(
                patient=patient,
                session_id=session_id,
                data={"scheduled_start": start, "status": SessionStatus.SCHEDULED},
                expected_versions=None,
            )
        return existing

    def _course(self, patient: User, now: dt.datetime) -> Course:
        """An esketamine course starting in three days, on that weekday and three days
        later, at 09:00 local; with the demonstration plan, so its prompts count in minutes."""
        course_id = _demo_id(patient, "course")
        existing = (
            Course.objects.filter(patient=patient)
            .filter(Q(pk=course_id) | Q(status=CourseStatus.ACTIVE))
            .first()
        )
        if existing is not None:
            return existing  # a second run, or a course the newcomer started
        zone = scheduling.zone_for(patient.time_zone)
        start = scheduling.local_date(now, zone) + dt.timedelta(days=3)
        weekdays = [recurrence.WEEKDAY_CODES[(start.weekday() + days) % 7] for days in (0, 3)]
        return course_services.course_create(
            patient=patient,
            id=course_id,
            template="esketamine-induction-maintenance",
            plan=DEMO_PLAN,
            start_date=start,
            local_time=dt.time(9),
            weekdays=weekdays,
        ).course

    def _share(
        self,
        patient: User,
        link: CareLink,
        dosing: TreatmentSession,
        integration_id: uuid.UUID,
        now: dt.datetime,
    ) -> Share:
        readable = (
            selectors.shares_for_patient(patient=patient)
            .filter(
                care_link=link,
                dosing_session=dosing,
                integration_session_id=integration_id,
                revoked_at__isnull=True,
                expires_at__gt=now,
            )
            .first()
        )
        if readable is not None and readable.include_measures:
            return readable
        if readable is not None:
            # Made by an earlier version of this command, without the measures.
            shares.share_revoke(patient=patient, share_id=readable.pk)
        return shares.share_create(
            patient=patient,
            care_link_id=link.pk,
            dosing_session_id=dosing.pk,
            integration_session_id=integration_id,
            include_measures=True,
        )
