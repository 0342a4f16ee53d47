"""The one access check for every therapist read of patient data, and its audit record.

Every therapist view, API or dashboard, goes through these functions; no view repeats a
condition. Each refusal is the same "not found", whether the share never existed, belongs
to another therapist, was revoked, has expired, or its care link ended: a therapist
learns nothing from a refusal. (Modelled on "access_message"-style checks: one place, one
condition a line, each with its reason.)
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import DatabaseError, models, transaction
from django.db.models import Count, Expression, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.exceptions import NotFound
from rest_framework.request import Request

from backend.accounts.models import Role, User
from backend.errors import ProblemError
from backend.logging import current_request_id
from backend.problem_codes import ProblemCode
from integration.models import AccessEvent, CareLink, SafetyAlert, Share, SharedEntry
from journal.models import Entry

# How the data was read: the therapist API, the dashboard, or the patient's calendar feed
# (read by whoever holds its secret URL: the patient's calendar app).
VIA_CHANNELS = ("api", "dashboard", "calendar")


class AccessAction(models.TextChoices):
    """What a therapist read: the `action` of an access event, the words of the patient's
    access log. A closed set: a read this list does not name cannot be recorded."""

    PATIENTS_LIST = "patients.list", "The list of linked patients (their names)"
    SHARES_LIST = "shares.list", "The patient's active shares"
    SHARES_HISTORY = "shares.history", "The patient's shares, past ones included"
    SHARE_READ = "share.read", "What one share exposes"
    SHARE_MEASURES = "share.measures", "The patient's PHQ-9 and GAD-7 scores, through a share"
    SHARE_COURSE = "share.course", "The course of the shared session: how far along, what is next"
    CALENDAR_FEED_READ = (
        "calendar_feed.read",
        "Your calendar feed's URL was read: the actor is you, through whoever holds the URL",
    )
    SAFETY_ALERTS_LIST = "safety_alerts.list", "Safety alerts about the patient"


def _not_found() -> NotFound:
    return NotFound()


def active_links_for_therapist(*, therapist: User) -> QuerySet[CareLink]:
    """The therapist's live care links to patients whose accounts still exist."""
    return CareLink.objects.filter(
        therapist=therapist,
        ended_at__isnull=True,  # either side ended the link: nothing under it is readable
        patient__erased_at__isnull=True,  # an erased patient has nothing left to read
        patient__is_active=True,
    )


def readable_shares_for_therapist(
    *, therapist: User, now: datetime | None = None
) -> QuerySet[Share]:
    """Shares this therapist may read right now: theirs, live, under a live link."""
    now = now or timezone.now()
    return Share.objects.filter(
        therapist=therapist,  # only the therapist the patient shared with
        revoked_at__isnull=True,  # the patient can revoke at any moment
        expires_at__gt=now,  # a share ends on its expiry
        care_link__ended_at__isnull=True,  # ending a link ends every share under it
        care_link__therapist=therapist,  # the link is this therapist's own
        patient__erased_at__isnull=True,  # erased patients' data is gone
        patient__is_active=True,
    )


def therapist_share_for_read(
    *, therapist: User, share_id: uuid.UUID | str, now: datetime | None = None
) -> Share:
    """The share, if this therapist may read it now; otherwise NotFound (the same answer
    for every reason). The caller must hold a verified therapist session or token; the
    API's and dashboard's permissions ensure it, and this re-checks the role."""
    if therapist.role != Role.THERAPIST:  # patients and staff never read through shares
        raise _not_found()
    try:
        share_uuid = uuid.UUID(str(share_id))
    except ValueError:
        raise _not_found() from None
    share = (
        readable_shares_for_therapist(therapist=therapist, now=now)
        .select_related("patient", "care_link", "dosing_session", "integration_session")
        .filter(pk=share_uuid)
        .first()
    )
    if share is None:
        raise _not_found()
    return share


def therapist_share_for_measures(
    *, therapist: User, share_id: uuid.UUID | str, now: datetime | None = None
) -> Share:
    """The share, if this therapist may read the patient's measures through it now;
    otherwise NotFound (the same answer as for every other refusal)."""
    share = therapist_share_for_read(therapist=therapist, share_id=share_id, now=now)
    if not share.include_measures:  # measures only when the patient chose to share them
        raise _not_found()
    return share


def therapist_share_for_course(
    *, therapist: User, share_id: uuid.UUID | str, now: datetime | None = None
) -> Share:
    """The share, if this therapist may read the course of its dosing session now;
    otherwise NotFound (the same answer as for every other refusal)."""
    share = therapist_share_for_read(therapist=therapist, share_id=share_id, now=now)
    session = share.dosing_session
    if session is None:  # a course is shown only through its shared session
        raise _not_found()
    if session.deleted_at is not None:  # a deleted session is gone for everyone
        raise _not_found()
    return share


def therapist_link_for_patient(*, therapist: User, patient_id: uuid.UUID | str) -> CareLink:
    """The therapist's live link to this patient, or NotFound."""
    if therapist.role != Role.THERAPIST:
        raise _not_found()
    try:
        patient_uuid = uuid.UUID(str(patient_id))
    except ValueError:
        raise _not_found() from None
    link = (
        active_links_for_therapist(therapist=therapist)
        .select_related("patient")
        .filter(patient_id=patient_uuid)
        .first()
    )
    if link is None:
        raise _not_found()
    return link


def live_link_between(*, patient: User, therapist_id: Any) -> QuerySet[CareLink]:
    """The patient's live link with this therapist, if any (a redeemed code checks it)."""
    return CareLink.objects.filter(
        patient=patient, therapist_id=therapist_id, ended_at__isnull=True
    )


def care_links_of(*, user: User) -> QuerySet[CareLink]:
    """The care links a user is a side of: a patient's own, or a therapist's (either side
    may end one)."""
    side = Q(patient=user) if user.is_patient else Q(therapist=user)
    return CareLink.objects.filter(side)


def share_history_for_therapist(*, therapist: User, patient_id: Any) -> QuerySet[Share]:
    """Every share this patient made with this therapist, in any state and under any link:
    the history shows states and dates only, and its caller checks the live link first."""
    return Share.objects.filter(therapist=therapist, patient_id=patient_id)


def safety_alert_links_for_patient(*, patient_id: Any) -> QuerySet[CareLink]:
    """The care links a safety alert about this patient goes to (and may still go to
    when it is sent)."""
    return CareLink.objects.filter(
        patient_id=patient_id,
        ended_at__isnull=True,  # only under a live link
        safety_alerts_enabled=True,  # the patient's consent, per link, off by default
        therapist__role=Role.THERAPIST,  # only ever to a therapist
        therapist__is_active=True,  # a deactivated account receives nothing
        patient__erased_at__isnull=True,  # an erased patient's alerts are gone
    )


def safety_alert_may_be_sent(alert: SafetyAlert) -> bool:
    """Whether the alert may still go out: its link is live and the consent it was made
    under is still the one in force (withdrawn, or withdrawn and given again, it is not)."""
    return (
        safety_alert_links_for_patient(patient_id=alert.patient_id)
        .filter(
            pk=alert.care_link_id,
            therapist_id=alert.therapist_id,
            safety_alerts_consent_id=alert.consent_id,
        )
        .exists()
    )


def readable_safety_alerts_for_therapist(*, therapist: User) -> QuerySet[SafetyAlert]:
    """The safety alerts this therapist may see on the dashboard now (acknowledged ones
    too: filter them out where only open ones are wanted)."""
    if therapist.role != Role.THERAPIST:  # patients and staff never see alerts
        return SafetyAlert.objects.none()
    return SafetyAlert.objects.filter(
        therapist=therapist,  # alerts addressed to this therapist only
        care_link__therapist=therapist,  # under their own link
        care_link__ended_at__isnull=True,  # ending the link ends what it showed
        care_link__safety_alerts_enabled=True,  # withdrawn consent withdraws the alerts too
        # ... and consent given again shows only alerts made since, under the new decision
        consent=F("care_link__safety_alerts_consent"),
        patient__erased_at__isnull=True,  # erased patients' data is gone
        patient__is_active=True,
    )


def therapist_safety_alert(*, therapist: User, alert_id: uuid.UUID | str) -> SafetyAlert:
    """One alert this therapist may see now; otherwise NotFound (the same for every
    reason)."""
    try:
        alert_uuid = uuid.UUID(str(alert_id))
    except ValueError:
        raise _not_found() from None
    alert = readable_safety_alerts_for_therapist(therapist=therapist).filter(pk=alert_uuid).first()
    if alert is None:
        raise _not_found()
    return alert


def _exposed_entries(*, chosen_entry_ids: Any, dosing_session_id: Any, patient_id: Any) -> Q:
    """The one rule for what a share exposes, for `share_entries_filter` (one share) and
    `exposed_entry_count` (a subquery per share in a list of shares)."""
    exposed = Q(pk__in=chosen_entry_ids)  # the entries the patient chose
    if dosing_session_id is not None:  # (`session_id=None` would mean IS NULL: every loose entry)
        exposed |= Q(
            session_id=dosing_session_id,  # everything attached to the shared dosing session
            session__deleted_at__isnull=True,  # while that session exists
        )
    return exposed & Q(
        patient_id=patient_id,  # never another patient's entry, whatever the ids say
        deleted_at__isnull=True,  # a deleted entry is gone for everyone
    )


def share_entries_filter(share: Share) -> Q:
    """Which entries a share exposes: those chosen for it, and, when it names a dosing
    session, every live entry linked to that session (entries added later too)."""
    return _exposed_entries(
        chosen_entry_ids=SharedEntry.objects.filter(share_id=share.pk).values("entry_id"),
        dosing_session_id=share.dosing_session_id,
        patient_id=share.patient_id,
    )


def exposed_entry_count() -> Expression:
    """For `Share` querysets: `.annotate(exposed_entry_count=exposed_entry_count())`, the
    number of entries each share exposes, by the same rule as `share_entries_filter`."""
    exposed = (
        Entry.objects.filter(
            _exposed_entries(
                chosen_entry_ids=SharedEntry.objects.filter(
                    share_id=OuterRef(OuterRef("pk"))
                ).values("entry_id"),
                # In SQL `session_id = NULL` is never true: no session, no session entries.
                dosing_session_id=OuterRef("dosing_session_id"),
                patient_id=OuterRef("patient_id"),
            )
        )
        .order_by()
        .values("patient_id")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return Coalesce(Subquery(exposed), 0)


def _client_address(request: HttpRequest | Request | None) -> str | None:
    if request is None:
        return None
    address = str(request.META.get("REMOTE_ADDR", ""))
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return None
    return address


def _event_fields(
    *,
    actor: User,
    patient: Any,
    action: AccessAction,
    via: str,
    request: HttpRequest | Request | None,
    share: Share | None,
    object_type: str,
    object_ids: Iterable[Any],
) -> dict[str, Any]:
    return {
        "actor": actor,
        "patient_id": patient.pk if hasattr(patient, "pk") else patient,
        "share": share,
        "action": action,
        "object_type": object_type,
        "object_ids": sorted(str(object_id) for object_id in object_ids),
        "request_id": current_request_id() or "",
        "ip_address": _client_address(request),
        "via": via,
    }


def _check_call(action: AccessAction, via: str) -> None:
    if action not in AccessAction.values:  # the patient's log names every kind of read
        raise ValueError(f"action must be one of {AccessAction.values}")
    if via not in VIA_CHANNELS:  # the patient's log says how their data was read
        raise ValueError(f"via must be one of {VIA_CHANNELS}")
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("access_record must run inside the reading transaction")


def audit_unavailable() -> ProblemError:
    """The answer to a read whose access event could not be written: the read is refused
    (503, nothing of it is sent), since a read that leaves no trace must not happen."""
    return ProblemError(
        503,
        ProblemCode.AUDIT_UNAVAILABLE,
        "This record cannot be shown right now because its access could not be logged. "
        "Try again later.",
        headers={"Retry-After": "30"},
    )


def access_record(
    *,
    actor: User,
    patient: Any,
    action: AccessAction,
    via: str,
    request: HttpRequest | Request | None,
    share: Share | None = None,
    object_type: str = "",
    object_ids: Iterable[Any] = (),
) -> AccessEvent:
    """Write the access event for a read. Call inside the transaction that reads: if the
    event cannot be written, the read fails with it (a database error becomes the 503
    `audit_unavailable`; the transaction, reads included, rolls back)."""
    _check_call(action, via)
    fields = _event_fields(
        actor=actor,
        patient=patient,
        action=action,
        via=via,
        request=request,
        share=share,
        object_type=object_type,
        object_ids=object_ids,
    )
    try:
        return AccessEvent.objects.create(**fields)
    except DatabaseError:
        raise audit_unavailable() from None


@dataclass(frozen=True)
class AccessRead:
    """One patient's part of a read that spans several patients (a list of patients)."""

    patient: Any
    object_type: str = ""
    object_ids: Iterable[Any] = ()


def access_record_per_patient(
    *,
    actor: User,
    action: AccessAction,
    via: str,
    request: HttpRequest | Request | None,
    object_type: str,
    ids_by_patient: Mapping[Any, Iterable[Any]],
) -> list[AccessEvent]:
    """`access_record_each` for a read grouped by patient: one event per patient, naming
    the ids of the objects of theirs that were read."""
    return access_record_each(
        actor=actor,
        action=action,
        via=via,
        request=request,
        reads=[
            AccessRead(patient=patient_id, object_type=object_type, object_ids=ids)
            for patient_id, ids in ids_by_patient.items()
        ],
    )


def access_record_each(
    *,
    actor: User,
    action: AccessAction,
    via: str,
    request: HttpRequest | Request | None,
    reads: Iterable[AccessRead],
) -> list[AccessEvent]:
    """One access event per patient read, in one INSERT, under the rules of
    `access_record`."""
    _check_call(action, via)
    events = [
        AccessEvent(
            **_event_fields(
                actor=actor,
                patient=read.patient,
                action=action,
                via=via,
                request=request,
                share=None,
                object_type=read.object_type,
                object_ids=read.object_ids,
            )
        )
        for read in reads
    ]
    if not events:
        return []
    try:
        return AccessEvent.objects.bulk_create(events)
    except DatabaseError:
        raise audit_unavailable() from None
