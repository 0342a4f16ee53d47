"""The patient's side of care: their links, shares, what a share exposes, and the access log."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from rest_framework.exceptions import NotFound

from backend.accounts.models import User
from backend.api import api_datetime
from backend.errors import ProblemError
from backend.problem_codes import ProblemCode
from integration.care import access
from integration.models import (
    AccessEvent,
    CareInvitation,
    CareLink,
    Prompt,
    PromptStatus,
    SafetyAlertConsent,
    Share,
)
from journal.entries.selectors import open_title
from journal.export.fhir import ConsentKind, ConsentRecord
from journal.keys import sealer_for
from journal.models import Entry, TreatmentSession

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
        .select_related("therapist", "safety_alerts_consent")
        .order_by("-created_at", "-id")
    )


def care_link_get_for_patient(
    *, patient: User, link_id: uuid.UUID
) -> tuple[CareLink, list[SafetyAlertConsent]]:
    """One of the patient's links (ended ones too) with its safety alert consent history,
    oldest first; NotFound alike for missing and not theirs."""
    link = care_links_for_patient(patient=patient).filter(pk=link_id).first()
    if link is None:
        raise NotFound()
    return link, list(
        SafetyAlertConsent.objects.filter(care_link=link).order_by("recorded_at", "id")
    )


def invitations_for_therapist(
    *, therapist: User, now: dt.datetime | None = None
) -> QuerySet[CareInvitation]:
    """The therapist's invitations still open (not redeemed, not expired), newest first."""
    now = now or timezone.now()
    return CareInvitation.objects.filter(
        therapist=therapist, redeemed_at__isnull=True, expires_at__gt=now
    ).order_by("-created_at", "-id")


def invitation_get_for_therapist(*, therapist: User, invitation_id: Any) -> CareInvitation:
    """One of the therapist's invitations by its public id, whatever its state; NotFound
    alike for missing, malformed and not theirs."""
    try:
        public_id = uuid.UUID(str(invitation_id))
    except ValueError:
        raise NotFound() from None
    invitation = CareInvitation.objects.filter(therapist=therapist, public_id=public_id).first()
    if invitation is None:
        raise NotFound()
    return invitation


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


def live_dosing_session(share: Share) -> TreatmentSession | None:
    session = share.dosing_session
    if session is None or session.deleted_at is not None:
        return None  # a deleted session exposes nothing of itself any more
    return session


def session_prompts(patient_id: Any, session_id: Any) -> QuerySet[Prompt]:
    """The prompts of a dosing session a share shows: every one but those cancelled."""
    return (
        Prompt.objects.filter(patient_id=patient_id, session_id=session_id)
        .exclude(status=PromptStatus.CANCELLED)
        .order_by("due_at", "id")
    )


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
            ProblemCode.SHARE_REVOKED,
            "This share was revoked; it stays in your list of shares as a record.",
            extra={"revoked_at": api_datetime(share.revoked_at)},
        )
    chosen = set(share.shared_entries.values_list("entry_id", flat=True))
    entries = list(
        Entry.objects.filter(access.share_entries_filter(share)).order_by("created_at", "id")
    )
    sealer = sealer_for(patient)
    session = live_dosing_session(share)
    return ShareExposure(
        share=share,
        state=share_state(share),
        entries=[
            ExposedEntry(
                id=entry.id,
                kind=entry.kind,
                title=open_title(entry, sealer=sealer),
                created_at=entry.created_at,
                shared_via="entry" if entry.id in chosen else "session",
            )
            for entry in entries
        ],
        exposes_session=session is not None,
        prompt_count=(
            session_prompts(share.patient_id, session.pk).count() if session is not None else 0
        ),
    )


def access_events_for_patient(*, patient: User) -> QuerySet[AccessEvent]:
    """Every read of the patient's data by someone else, newest first."""
    return (
        AccessEvent.objects.filter(patient=patient)
        .select_related("actor")
        .order_by("-created_at", "-id")
    )


def safety_alert_consents_for_export(*, patient: User) -> list[ConsentRecord]:
    """A `JOURNAL_EXPORT_CONSENT_HOOKS` hook: every decision the patient made about safety
    alerts, on every link (ended ones too), oldest first, for the FHIR export. The one in
    force on a live link is active; the others are history."""
    consents = (
        SafetyAlertConsent.objects.filter(care_link__patient=patient)
        .select_related("care_link__therapist")
        .order_by("recorded_at", "id")
    )
    return [
        ConsentRecord(
            id=consent.id,
            kind=ConsentKind.SAFETY_ALERTS,
            is_permit=consent.is_given,
            version=consent.consent_version,
            recorded_at=consent.recorded_at,
            is_in_force=(
                consent.care_link.ended_at is None
                and consent.care_link.safety_alerts_consent_id == consent.id
            ),
            recipient_id=consent.care_link.therapist_id,
            recipient_display=consent.care_link.therapist.display_name,
        )
        for consent in consents
    ]
