"""Reads of the care layer. Each takes the caller: a patient reaches only their own rows,
a therapist only what `integration.access` lets through, and every therapist read of
patient data writes its access event in the transaction that reads."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, NamedTuple

from django.db import transaction
from django.db.models import F, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.exceptions import NotFound
from rest_framework.request import Request

from backend.accounts.models import User
from backend.errors import ProblemError
from integration import access
from integration.models import (
    AccessEvent,
    CareInvitation,
    CareLink,
    Device,
    Exercise,
    IntegrationPlan,
    PatientTimeline,
    PlanStep,
    Prompt,
    PromptStatus,
    Share,
    SharedEntry,
)
from journal import measures
from journal import selectors as journal_selectors
from journal.keys import sealer_for
from journal.models import Entry, SessionKind, SessionStatus, TreatmentSession
from journal.selectors import open_content

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
    disabled_steps: list[int]
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
        disabled_steps=sorted(timeline.disabled_steps.values_list("pk", flat=True)),
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


def device_list_for_patient(*, patient: User) -> QuerySet[Device]:
    """The patient's active push devices, oldest first."""
    return Device.objects.filter(user=patient, is_active=True).order_by("created_at", "id")


# Care links, shares and access events: the patient's side -------------------------------


class ShareState:
    """A share's state as both sides see it (plain strings, for serializers and templates)."""

    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"
    ENDED = "ended"  # its care link ended

    ALL = (ACTIVE, EXPIRED, REVOKED, ENDED)


def share_state(share: Share, *, now: dt.datetime | None = None) -> str:
    """Revoked first (the patient's act), then an ended link, then expiry. Reads
    `share.care_link`: select it with the share."""
    now = now or timezone.now()
    if share.revoked_at is not None:
        return ShareState.REVOKED
    if share.care_link.ended_at is not None:
        return ShareState.ENDED
    if share.expires_at <= now:
        return ShareState.EXPIRED
    return ShareState.ACTIVE


def care_links_for_patient(*, patient: User) -> QuerySet[CareLink]:
    """The patient's care links, ended ones too, newest first."""
    return (
        CareLink.objects.filter(patient=patient)
        .select_related("therapist")
        .order_by("-created_at", "-id")
    )


def invitations_for_therapist(
    *, therapist: User, now: dt.datetime | None = None
) -> QuerySet[CareInvitation]:
    """The therapist's invitations still open (not redeemed, not expired), newest first."""
    now = now or timezone.now()
    return CareInvitation.objects.filter(
        therapist=therapist, redeemed_at__isnull=True, expires_at__gt=now
    ).order_by("-created_at", "-id")


def shares_for_patient(*, patient: User) -> QuerySet[Share]:
    """The patient's shares, whatever their state, newest first, with the number of
    entries each exposes now."""
    return (
        Share.objects.filter(patient=patient)
        .select_related("care_link", "therapist", "dosing_session", "integration_session")
        .annotate(exposed_entry_count=access.exposed_entry_count())
        .order_by("-created_at", "-id")
    )


@dataclass(frozen=True)
class ExposedEntry:
    """An entry a share exposes, as its owner sees it in the share's detail."""

    id: uuid.UUID
    kind: str
    title: str
    created_at: dt.datetime
    shared_via: str  # "entry" (chosen) or "session" (attached to the shared dosing session)


@dataclass(frozen=True)
class ShareExposure:
    """A share and exactly what it exposes (what its therapist would read while it is
    active)."""

    share: Share
    state: str
    entries: list[ExposedEntry]
    exposes_session: bool
    prompt_count: int


def share_get_for_patient(*, patient: User, share_id: uuid.UUID) -> ShareExposure:
    """One of the patient's shares with what it exposes; NotFound alike for missing and
    not theirs."""
    share = shares_for_patient(patient=patient).filter(pk=share_id).first()
    if share is None:
        raise NotFound()
    if share.revoked_at is not None:
        # DELETE revoked it: nothing is served at its address any more. The list of shares
        # keeps it, with its state, as the patient's history.
        raise ProblemError(
            410,
            "share_revoked",
            "This share was revoked; it stays in your list of shares as a record.",
            extra={"revoked_at": share.revoked_at.isoformat()},
        )
    chosen = set(share.shared_entries.values_list("entry_id", flat=True))
    entries = list(
        Entry.objects.filter(access.share_entries_filter(share)).order_by("created_at", "id")
    )
    sealer = sealer_for(patient)
    session = _live_dosing_session(share)
    return ShareExposure(
        share=share,
        state=share_state(share),
        entries=[
            ExposedEntry(
                id=entry.id,
                kind=entry.kind,
                title=sealer.open(entry, "title_sealed"),
                created_at=entry.created_at,
                shared_via="entry" if entry.id in chosen else "session",
            )
            for entry in entries
        ],
        exposes_session=session is not None,
        prompt_count=(
            _session_prompts(share.patient_id, session.pk).count() if session is not None else 0
        ),
    )


def access_events_for_patient(*, patient: User) -> QuerySet[AccessEvent]:
    """Every read of the patient's data by someone else, newest first."""
    return (
        AccessEvent.objects.filter(patient=patient)
        .select_related("actor")
        .order_by("-created_at", "-id")
    )


# The therapist's side ---------------------------------------------------------------------
#
# The web dashboard calls these as the API does (`via="dashboard"`); keep their names and
# keyword arguments stable.


class UpcomingSession(NamedTuple):
    id: uuid.UUID
    kind: str
    scheduled_start: dt.datetime


@dataclass(frozen=True)
class LinkedPatientView:
    """What a link alone lets a therapist see: who, and when they meet next."""

    patient_id: uuid.UUID
    display_name: str
    upcoming_sessions: list[UpcomingSession]
    next_integration_session_at: dt.datetime | None
    # The therapist's own relationship (to end it), not patient data.
    care_link_id: uuid.UUID


def _upcoming_sessions(
    patient_ids: Collection[Any], now: dt.datetime
) -> QuerySet[TreatmentSession]:
    return TreatmentSession.objects.filter(
        patient_id__in=list(patient_ids),
        deleted_at__isnull=True,
        status=SessionStatus.SCHEDULED,
        scheduled_start__gt=now,
    ).order_by("scheduled_start", "id")


def linked_patients_for_therapist(
    *, therapist: User, request: HttpRequest | Request | None, via: str
) -> list[LinkedPatientView]:
    """The therapist's linked patients by name, each with their upcoming sessions (kind
    and start only). One access event per patient listed ("patients.list"), written with
    the read. Three queries whatever the number of patients."""
    now = timezone.now()
    with transaction.atomic():
        links = list(
            access.active_links_for_therapist(therapist=therapist)
            .select_related("patient")
            .order_by("patient__display_name", "patient_id")
        )
        sessions: dict[Any, list[UpcomingSession]] = {link.patient_id: [] for link in links}
        for session in _upcoming_sessions(sessions.keys(), now).only(
            "id", "patient_id", "kind", "scheduled_start"
        ):
            sessions[session.patient_id].append(
                UpcomingSession(session.id, session.kind, session.scheduled_start)
            )
        views = [
            LinkedPatientView(
                patient_id=link.patient_id,
                display_name=link.patient.display_name,
                upcoming_sessions=sessions[link.patient_id],
                next_integration_session_at=next(
                    (
                        item.scheduled_start
                        for item in sessions[link.patient_id]
                        if item.kind == SessionKind.INTEGRATION
                    ),
                    None,
                ),
                care_link_id=link.id,
            )
            for link in links
        ]
        access.access_record_each(
            actor=therapist,
            action="patients.list",
            via=via,
            request=request,
            reads=[
                access.AccessRead(
                    patient=view.patient_id,
                    object_type="session",
                    object_ids=[item.id for item in view.upcoming_sessions],
                )
                for view in views
            ],
        )
    return views


def readable_shares_for_patient(
    *, therapist: User, patient_id: uuid.UUID | str, request: HttpRequest | Request | None, via: str
) -> list[Share]:
    """The shares of this patient the therapist may read now, newest first, each with
    `exposed_entry_count`; NotFound unless they are linked. Writes "shares.list"."""
    with transaction.atomic():
        link = access.therapist_link_for_patient(therapist=therapist, patient_id=patient_id)
        shares: list[Share] = list(
            access.readable_shares_for_therapist(therapist=therapist)
            .filter(patient_id=link.patient_id)
            .select_related("dosing_session", "integration_session")
            .annotate(exposed_entry_count=access.exposed_entry_count())
            .order_by("-created_at", "-id")
        )
        access.access_record(
            actor=therapist,
            patient=link.patient_id,
            action="shares.list",
            via=via,
            request=request,
            object_type="share",
            object_ids=[share.pk for share in shares],
        )
    return shares


def readable_shares_by_patient(
    *,
    therapist: User,
    patient_ids: Collection[uuid.UUID],
    request: HttpRequest | Request | None,
    via: str,
) -> dict[uuid.UUID, list[Share]]:
    """`readable_shares_for_patient` for many linked patients at once (the dashboard's
    list of patients): one query for the shares and one INSERT for the access events (one
    "shares.list" per patient), whatever the number of patients. Patients without a live
    link to the therapist get nothing (the readable-shares queryset requires one)."""
    by_patient: dict[uuid.UUID, list[Share]] = {patient_id: [] for patient_id in patient_ids}
    if not by_patient:
        return by_patient
    with transaction.atomic():
        shares = (
            access.readable_shares_for_therapist(therapist=therapist)
            .filter(patient_id__in=by_patient.keys())
            .select_related("dosing_session", "integration_session")
            .annotate(exposed_entry_count=access.exposed_entry_count())
            .order_by("-created_at", "-id")
        )
        for share in shares:
            by_patient[share.patient_id].append(share)
        access.access_record_per_patient(
            actor=therapist,
            action="shares.list",
            via=via,
            request=request,
            object_type="share",
            ids_by_patient={
                key: [share.pk for share in items] for key, items in by_patient.items()
            },
        )
    return by_patient


@dataclass(frozen=True)
class ShareHistoryItem:
    """A share's state and dates, without anything of what it exposed."""

    share_id: uuid.UUID
    state: str
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    link_ended_at: dt.datetime | None


def share_history_for_therapist(
    *, therapist: User, patient_id: uuid.UUID | str, request: HttpRequest | Request | None, via: str
) -> list[ShareHistoryItem]:
    """Every share this patient made with this therapist (expired, revoked and those of
    earlier links too), state and dates only; NotFound unless they are linked now.
    Writes "shares.history"."""
    now = timezone.now()
    with transaction.atomic():
        link = access.therapist_link_for_patient(therapist=therapist, patient_id=patient_id)
        shares = list(
            Share.objects.filter(therapist=therapist, patient_id=link.patient_id)
            .select_related("care_link")
            .order_by("-created_at", "-id")
        )
        access.access_record(
            actor=therapist,
            patient=link.patient_id,
            action="shares.history",
            via=via,
            request=request,
            object_type="share",
            object_ids=[share.pk for share in shares],
        )
    return [
        ShareHistoryItem(
            share_id=share.id,
            state=share_state(share, now=now),
            created_at=share.created_at,
            expires_at=share.expires_at,
            revoked_at=share.revoked_at,
            link_ended_at=share.care_link.ended_at,
        )
        for share in shares
    ]


@dataclass(frozen=True)
class SharedSessionView:
    """The shared dosing session as a therapist sees it: its record, not its note (the
    note is the patient's private remark on the calendar, not something attached)."""

    id: uuid.UUID
    modality: str | None
    setting: str | None
    scheduled_start: dt.datetime
    actual_start: dt.datetime | None
    actual_end: dt.datetime | None
    status: str
    after_effects: dict[str, str] | None
    overall_rating: int | None
    updated_at: dt.datetime


@dataclass(frozen=True)
class SharedEntryView:
    id: uuid.UUID
    kind: str
    title: str
    body: str
    tags: list[str]
    mood: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    is_edited: bool
    shared_via: str  # "entry" or "session"


@dataclass(frozen=True)
class SharedPromptView:
    exercise_title: str
    due_at: dt.datetime
    status: str
    completed_at: dt.datetime | None


@dataclass(frozen=True)
class ShareContent:
    share_id: uuid.UUID
    patient_id: uuid.UUID
    patient_display_name: str
    created_at: dt.datetime
    expires_at: dt.datetime
    dosing_session: SharedSessionView | None
    integration_session: UpcomingSession | None
    entries: list[SharedEntryView]
    prompts: list[SharedPromptView]
    # Whether the share also lets the therapist read the measures (a property of the
    # share, not patient data: the measures are read by `share_measures_for_therapist`).
    include_measures: bool = False


def _live_dosing_session(share: Share) -> TreatmentSession | None:
    session = share.dosing_session
    if session is None or session.deleted_at is not None:
        return None  # a deleted session exposes nothing of itself any more
    return session


def _session_prompts(patient_id: Any, session_id: Any) -> QuerySet[Prompt]:
    """The prompts of a dosing session a share shows: every one but those cancelled."""
    return (
        Prompt.objects.filter(patient_id=patient_id, session_id=session_id)
        .exclude(status=PromptStatus.CANCELLED)
        .order_by("due_at", "id")
    )


def _is_edited(entry: Entry, version_at_share: int | None, share: Share) -> bool:
    """Edited since the therapist could first see it: for a chosen entry, a version after
    the one shared; for one attached to the session, an edit after the share was made (an
    entry written later, never edited, is version 1)."""
    if version_at_share is not None:
        return entry.version > version_at_share
    return entry.version > 1 and entry.updated_at > share.created_at


def share_content_for_therapist(
    *, therapist: User, share_id: uuid.UUID | str, request: HttpRequest | Request | None, via: str
) -> ShareContent:
    """What a share exposes, opened, for its therapist; NotFound (the same for every
    reason) unless they may read it now. One "share.read" access event is written in the
    transaction of the reads; if it cannot be, nothing is returned. A constant number of
    queries whatever the number of entries."""
    with transaction.atomic():
        share = access.therapist_share_for_read(therapist=therapist, share_id=share_id)
        entries = list(
            Entry.objects.filter(access.share_entries_filter(share))
            .annotate(
                version_at_share=Subquery(
                    SharedEntry.objects.filter(share_id=share.pk, entry_id=OuterRef("pk")).values(
                        "version_at_share"
                    )[:1]
                )
            )
            .order_by("created_at", "id")
        )
        session = _live_dosing_session(share)
        prompts = (
            list(_session_prompts(share.patient_id, session.pk).select_related("exercise"))
            if session is not None
            else []
        )
        sealer = sealer_for(share.patient)
        entry_views = []
        for entry in entries:
            version_at_share: int | None = getattr(entry, "version_at_share", None)
            body, tags = open_content(entry, sealer=sealer)
            entry_views.append(
                SharedEntryView(
                    id=entry.id,
                    kind=entry.kind,
                    title=sealer.open(entry, "title_sealed"),
                    body=body,
                    tags=tags,
                    mood=entry.mood,
                    created_at=entry.created_at,
                    updated_at=entry.updated_at,
                    is_edited=_is_edited(entry, version_at_share, share),
                    shared_via="entry" if version_at_share is not None else "session",
                )
            )
        object_ids: list[Any] = [entry.id for entry in entries]
        if session is not None:
            object_ids.append(session.pk)
        access.access_record(
            actor=therapist,
            patient=share.patient,
            action="share.read",
            via=via,
            request=request,
            share=share,
            object_type="entry",
            object_ids=object_ids,
        )
    integration = share.integration_session
    return ShareContent(
        share_id=share.id,
        patient_id=share.patient_id,
        patient_display_name=share.patient.display_name,
        created_at=share.created_at,
        expires_at=share.expires_at,
        dosing_session=(
            SharedSessionView(
                id=session.id,
                modality=session.modality or None,
                setting=session.setting or None,
                scheduled_start=session.scheduled_start,
                actual_start=session.actual_start,
                actual_end=session.actual_end,
                status=session.status,
                after_effects=session.after_effects,
                overall_rating=session.overall_rating,
                updated_at=session.updated_at,
            )
            if session is not None
            else None
        ),
        integration_session=(
            UpcomingSession(integration.id, integration.kind, integration.scheduled_start)
            if integration is not None and integration.deleted_at is None
            else None
        ),
        entries=entry_views,
        prompts=[
            SharedPromptView(
                exercise_title=prompt.exercise.title,
                due_at=prompt.due_at,
                status=prompt.status,
                completed_at=prompt.completed_at,
            )
            for prompt in prompts
        ],
        include_measures=share.include_measures,
    )


# Measures: the therapist's charts ---------------------------------------------------------


@dataclass(frozen=True)
class MeasurePointView:
    """One score as a therapist sees it: total and band, never the item answers."""

    measure_id: uuid.UUID
    taken_at: dt.datetime
    total: int
    band: str
    is_baseline: bool
    change_from_baseline: int | None
    percent_change: float | None
    is_response: bool | None
    is_remission: bool | None


@dataclass(frozen=True)
class MeasureSeriesView:
    """One instrument's scores over the course, with what a chart needs to draw them."""

    instrument: str
    name: str
    max_total: int
    bands: list[measures.SeverityBand]
    remission_below: int
    first_dosing_session_at: dt.datetime | None
    baseline: MeasurePointView | None
    # Totals at or below this are a response (half the baseline); None while the flags do
    # not apply (no baseline, or one below `journal.measures.FLAG_MIN_BASELINE`).
    response_at_most: float | None
    points: list[MeasurePointView]


@dataclass(frozen=True)
class ShareMeasures:
    share_id: uuid.UUID
    patient_id: uuid.UUID
    patient_display_name: str
    expires_at: dt.datetime
    # Starts (actual once recorded) of the patient's dosing sessions that have begun.
    dosing_sessions: list[dt.datetime]
    series: list[MeasureSeriesView]


def _point_view(point: journal_selectors.TrendPoint) -> MeasurePointView:
    return MeasurePointView(
        measure_id=point.id,
        taken_at=point.taken_at,
        total=point.total,
        band=point.band,
        is_baseline=point.is_baseline,
        change_from_baseline=point.change_from_baseline,
        percent_change=point.percent_change,
        is_response=point.is_response,
        is_remission=point.is_remission,
    )


def _series_view(trend: journal_selectors.Trend) -> MeasureSeriesView:
    form = measures.definition(trend.instrument)
    points = [_point_view(point) for point in trend.points]
    baseline = next((point for point in points if point.is_baseline), None)
    applies = baseline is not None and baseline.total >= measures.FLAG_MIN_BASELINE
    return MeasureSeriesView(
        instrument=trend.instrument,
        name=form.name,
        max_total=form.max_total,
        bands=list(form.bands),
        remission_below=form.remission_below,
        first_dosing_session_at=trend.first_dosing_session_at,
        baseline=baseline,
        response_at_most=baseline.total / 2 if baseline is not None and applies else None,
        points=points,
    )


def _dosing_start(session: TreatmentSession) -> dt.datetime:
    return session.actual_start or session.scheduled_start


def share_measures_for_therapist(
    *, therapist: User, share_id: uuid.UUID | str, request: HttpRequest | Request | None, via: str
) -> ShareMeasures:
    """The patient's PHQ-9 and GAD-7 series (journal's trend: baseline, change, response,
    remission) and the starts of their dosing sessions so far, for the therapist of a
    share that includes measures; NotFound (the same for every reason) otherwise. One
    "share.measures" access event is written in the transaction of the reads. A
    constant number of queries whatever the number of measures."""
    now = timezone.now()
    with transaction.atomic():
        share = access.therapist_share_for_measures(therapist=therapist, share_id=share_id)
        patient = share.patient
        trends = [
            journal_selectors.measure_trend_for_patient(patient=patient, instrument=code)
            for code in measures.INSTRUMENTS
        ]
        sessions = (
            journal_selectors.session_queryset_for_patient(patient=patient)
            .filter(kind=SessionKind.DOSING)
            .exclude(status=SessionStatus.CANCELLED)
            .only("id", "scheduled_start", "actual_start")
        )
        began = sorted(
            (session for session in sessions if _dosing_start(session) <= now), key=_dosing_start
        )
        object_ids: list[Any] = [point.id for trend in trends for point in trend.points]
        object_ids += [session.pk for session in began]
        access.access_record(
            actor=therapist,
            patient=patient,
            action="share.measures",
            via=via,
            request=request,
            share=share,
            object_type="measure",
            object_ids=object_ids,
        )
    return ShareMeasures(
        share_id=share.id,
        patient_id=share.patient_id,
        patient_display_name=patient.display_name,
        expires_at=share.expires_at,
        dosing_sessions=[_dosing_start(session) for session in began],
        series=[_series_view(trend) for trend in trends],
    )


# Safety alerts on the dashboard ------------------------------------------------------------


@dataclass(frozen=True)
class SafetyAlertView:
    """An open alert as the dashboard shows it: whose, and when. Never the answer."""

    id: uuid.UUID
    patient_id: uuid.UUID
    patient_display_name: str
    created_at: dt.datetime


def open_safety_alerts_for_therapist(
    *,
    therapist: User,
    request: HttpRequest | Request | None,
    via: str,
    patient_ids: Collection[Any] | None = None,
) -> dict[uuid.UUID, list[SafetyAlertView]]:
    """The therapist's unacknowledged safety alerts (of these patients, or of all), newest
    first, by patient. Seeing one is a read of patient data: one "safety_alerts.list"
    access event per patient shown, written with the read (none when there is none)."""
    alerts = access.readable_safety_alerts_for_therapist(therapist=therapist).filter(
        acknowledged_at__isnull=True
    )
    if patient_ids is not None:
        alerts = alerts.filter(patient_id__in=list(patient_ids))
    if not alerts.exists():
        return {}  # the usual case, in one query: nothing shown, nothing read
    with transaction.atomic():
        alerts = alerts.select_related("patient").order_by("-created_at", "-id")
        by_patient: dict[uuid.UUID, list[SafetyAlertView]] = {}
        for alert in alerts:
            by_patient.setdefault(alert.patient_id, []).append(
                SafetyAlertView(
                    id=alert.id,
                    patient_id=alert.patient_id,
                    patient_display_name=alert.patient.display_name,
                    created_at=alert.created_at,
                )
            )
        access.access_record_per_patient(
            actor=therapist,
            action="safety_alerts.list",
            via=via,
            request=request,
            object_type="safety_alert",
            ids_by_patient={
                key: [alert.id for alert in items] for key, items in by_patient.items()
            },
        )
    return by_patient
