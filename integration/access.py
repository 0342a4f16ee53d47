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
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.exceptions import NotFound

from backend.accounts.models import Role, User
from backend.logging import current_request_id
from integration.models import AccessEvent, CareLink, Share


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


def share_entries_filter(share: Share) -> Q:
    """Which entries a share exposes: those chosen for it, and, when it names a dosing
    session, every live entry linked to that session (entries added later too)."""
    condition = Q(pk__in=share.shared_entries.values("entry_id"))
    if share.dosing_session_id is not None:
        condition |= Q(session_id=share.dosing_session_id)
    return condition & Q(patient_id=share.patient_id, deleted_at__isnull=True)


def _client_address(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    address = str(request.META.get("REMOTE_ADDR", ""))
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return None
    return address


def access_record(
    *,
    actor: User,
    patient: Any,
    action: str,
    via: str,
    request: HttpRequest | None,
    share: Share | None = None,
    object_type: str = "",
    object_ids: Iterable[Any] = (),
) -> AccessEvent:
    """Write the access event for a read. Call inside the transaction that reads: if the
    event cannot be written, the read fails with it."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("access_record must run inside the reading transaction")
    return AccessEvent.objects.create(
        actor=actor,
        patient_id=patient.pk if hasattr(patient, "pk") else patient,
        share=share,
        action=action,
        object_type=object_type,
        object_ids=sorted(str(object_id) for object_id in object_ids),
        request_id=current_request_id() or "",
        ip_address=_client_address(request),
        via=via,
    )
