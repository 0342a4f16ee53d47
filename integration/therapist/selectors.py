"""The therapist's reads: linked patients, readable shares, a share's content, open safety
alerts. Each runs the access check and records the access event with the read.

The web dashboard calls these as the API does (`via="dashboard"`); keep their names and
keyword arguments stable.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from django.db import transaction
from django.db.models import F, OuterRef, QuerySet, Subquery
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.request import Request

from backend.accounts.countries import country_name
from backend.accounts.models import User
from integration.care import access
from integration.care.selectors import live_dosing_session, session_prompts, share_state
from integration.models import (
    CareLink,
    Share,
    SharedEntry,
)
from journal.entries.selectors import open_content, open_title
from journal.keys import sealer_for
from journal.models import Entry, SessionKind, SessionStatus, TreatmentSession
from journal.safety import crisis_resources
from journal.sessions.selectors import SessionWithoutNote, session_without_note

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
    # The patient's current decision about safety alerts to this therapist (never its
    # history), and their country, whose crisis lines the patient is shown.
    safety_alerts_enabled: bool
    safety_alerts_since: dt.datetime | None
    country: str | None


def _upcoming_sessions(
    patient_ids: Collection[Any], now: dt.datetime
) -> QuerySet[TreatmentSession]:
    return TreatmentSession.objects.filter(
        patient_id__in=list(patient_ids),
        deleted_at__isnull=True,
        status=SessionStatus.SCHEDULED,
        scheduled_start__gt=now,
    ).order_by("scheduled_start", "id")


# By name: a cursor reads its position from a column of the row itself, so the name is
# annotated onto the link; the patient's id parts equal names.
LINKED_PATIENT_ORDERING = ("patient_display_name", "patient_id")


def linked_patients_for_therapist(
    *,
    therapist: User,
    request: HttpRequest | Request | None,
    via: str,
    read: Callable[[QuerySet[CareLink]], list[CareLink]] = list,
) -> list[LinkedPatientView]:
    """The therapist's linked patients by name, each with their upcoming sessions (kind
    and start only); `read` takes the rows to show (a page) from the ordered links. One
    access event per patient shown ("patients.list"), written with the read. Three queries
    whatever the number of patients."""
    now = timezone.now()
    with transaction.atomic():
        links = read(
            access.active_links_for_therapist(therapist=therapist)
            .select_related("patient", "safety_alerts_consent")
            .annotate(patient_display_name=F("patient__display_name"))
            .order_by(*LINKED_PATIENT_ORDERING)
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
                safety_alerts_enabled=link.safety_alerts_enabled,
                safety_alerts_since=(
                    link.safety_alerts_consent.recorded_at if link.safety_alerts_consent else None
                ),
                country=link.patient.country or None,
            )
            for link in links
        ]
        access.access_record_each(
            actor=therapist,
            action=access.AccessAction.PATIENTS_LIST,
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


def _record_per_patient(
    rows_by_patient: Mapping[uuid.UUID, Sequence[Share | SafetyAlertView]],
    *,
    therapist: User,
    action: access.AccessAction,
    object_type: str,
    request: HttpRequest | Request | None,
    via: str,
) -> None:
    """One `action` event for each patient of `rows_by_patient`, naming the ids of their
    rows shown, in one INSERT; call it in the transaction of the read."""
    access.access_record_per_patient(
        actor=therapist,
        action=action,
        via=via,
        request=request,
        object_type=object_type,
        ids_by_patient={key: [row.id for row in rows] for key, rows in rows_by_patient.items()},
    )


def _shares_shown(therapist: User) -> QuerySet[Share]:
    """The shares the therapist's lists show: readable now, newest first, with their
    sessions and `exposed_entry_count`."""
    return (
        access.readable_shares_for_therapist(therapist=therapist)
        .select_related("dosing_session", "integration_session")
        .annotate(exposed_entry_count=access.exposed_entry_count())
        .order_by("-created_at", "-id")
    )


def _linked_patient_shares(
    *,
    therapist: User,
    patient_id: uuid.UUID | str,
    shares: Callable[[uuid.UUID], QuerySet[Share]],
    action: access.AccessAction,
    request: HttpRequest | Request | None,
    via: str,
    read: Callable[[QuerySet[Share]], list[Share]],
) -> list[Share]:
    """The rows `read` takes from `shares` of a patient linked to the therapist now (given
    the patient's id), with one `action` event naming them, written with the read;
    NotFound unless they are linked."""
    with transaction.atomic():
        link = access.therapist_link_for_patient(therapist=therapist, patient_id=patient_id)
        rows = read(shares(link.patient_id))
        access.access_record(
            actor=therapist,
            patient=link.patient_id,
            action=action,
            via=via,
            request=request,
            object_type="share",
            object_ids=[share.pk for share in rows],
        )
    return rows


def readable_shares_for_patient(
    *,
    therapist: User,
    patient_id: uuid.UUID | str,
    request: HttpRequest | Request | None,
    via: str,
    read: Callable[[QuerySet[Share]], list[Share]] = list,
) -> list[Share]:
    """The shares of this patient the therapist may read now, newest first, each with
    `exposed_entry_count` (`read` takes the rows to show, a page); NotFound unless they
    are linked. Writes "shares.list" for the shares shown."""
    return _linked_patient_shares(
        therapist=therapist,
        patient_id=patient_id,
        shares=lambda linked_id: _shares_shown(therapist).filter(patient_id=linked_id),
        action=access.AccessAction.SHARES_LIST,
        request=request,
        via=via,
        read=read,
    )


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
        for share in _shares_shown(therapist).filter(patient_id__in=by_patient.keys()):
            by_patient[share.patient_id].append(share)
        _record_per_patient(
            by_patient,
            therapist=therapist,
            action=access.AccessAction.SHARES_LIST,
            object_type="share",
            request=request,
            via=via,
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
    *,
    therapist: User,
    patient_id: uuid.UUID | str,
    request: HttpRequest | Request | None,
    via: str,
    read: Callable[[QuerySet[Share]], list[Share]] = list,
) -> list[ShareHistoryItem]:
    """Every share this patient made with this therapist (expired, revoked and those of
    earlier links too), state and dates only, newest first (`read` takes the rows to show,
    a page); NotFound unless they are linked now. Writes "shares.history"."""
    now = timezone.now()
    shares = _linked_patient_shares(
        therapist=therapist,
        patient_id=patient_id,
        shares=lambda linked_id: (
            access.share_history_for_therapist(therapist=therapist, patient_id=linked_id)
            .select_related("care_link")
            .order_by("-created_at", "-id")
        ),
        action=access.AccessAction.SHARES_HISTORY,
        request=request,
        via=via,
        read=read,
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
    delivered_via: str | None = None


@dataclass(frozen=True)
class ShareContent:
    share_id: uuid.UUID
    patient_id: uuid.UUID
    patient_display_name: str
    created_at: dt.datetime
    expires_at: dt.datetime
    # The shared dosing session: its record, not its note (the note is the patient's
    # private remark on the calendar, not something attached).
    dosing_session: SessionWithoutNote | None
    integration_session: UpcomingSession | None
    entries: list[SharedEntryView]
    prompts: list[SharedPromptView]
    # Whether the share also lets the therapist read the measures (a property of the
    # share, not patient data: the measures are read by `share_measures_for_therapist`).
    include_measures: bool = False


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
        session = live_dosing_session(share)
        prompts = (
            list(session_prompts(share.patient_id, session.pk).select_related("exercise"))
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
                    title=open_title(entry, sealer=sealer),
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
            action=access.AccessAction.SHARE_READ,
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
        dosing_session=session_without_note(session) if session is not None else None,
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
                delivered_via=prompt.delivered_via or None,
            )
            for prompt in prompts
        ],
        include_measures=share.include_measures,
    )


# Safety alerts on the dashboard ------------------------------------------------------------


@dataclass(frozen=True)
class SafetyAlertView:
    """An open alert as the dashboard shows it: whose, and when. Never the answer."""

    id: uuid.UUID
    patient_id: uuid.UUID
    patient_display_name: str
    created_at: dt.datetime
    # Where the patient lives, and the lines they were shown (the clinic's first), so the
    # therapist can point them to the same ones; empty lines: the plain fallback.
    country_name: str | None = None
    crisis_lines: tuple[dict[str, Any], ...] = ()


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
                    country_name=country_name(alert.patient.country) or None,
                    crisis_lines=tuple(crisis_resources(country=alert.patient.country)),
                )
            )
        _record_per_patient(
            by_patient,
            therapist=therapist,
            action=access.AccessAction.SAFETY_ALERTS_LIST,
            object_type="safety_alert",
            request=request,
            via=via,
        )
    return by_patient
