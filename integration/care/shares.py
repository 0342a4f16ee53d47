"""Shares: the patient lets a linked therapist read chosen entries and/or one dosing session
until an expiry, and can revoke that at any time.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import NotFound

from backend.accounts.models import User
from backend.errors import invalid_fields
from integration.care.links import SHARE_DEFAULT_DURATION, SHARE_MAX_DURATION, SHARE_MAX_ENTRIES
from integration.models import (
    CareLink,
    Share,
    SharedEntry,
)
from journal.models import (
    Entry,
    SessionKind,
    SessionStatus,
    TreatmentSession,
)


def _live_session(patient: User, session_id: uuid.UUID) -> TreatmentSession | None:
    return TreatmentSession.objects.filter(
        patient=patient, pk=session_id, deleted_at__isnull=True
    ).first()


def share_create(
    *,
    patient: User,
    care_link_id: uuid.UUID,
    entry_ids: Sequence[uuid.UUID] = (),
    dosing_session_id: uuid.UUID | None = None,
    integration_session_id: uuid.UUID | None = None,
    expires_at: dt.datetime | None = None,
    include_measures: bool = False,
) -> Share:
    """Share chosen entries, everything attached to one dosing session, and/or the
    patient's measures (every PHQ-9 and GAD-7 score, later ones too, with the start times
    of their dosing sessions) with a linked therapist, until `expires_at` (default: 7 days
    after the integration session, or 7 days from now without one; at most 90 days from
    now).

    Every id must name the patient's own live record; an error names the field, never
    whether the id exists for someone else.
    """
    now = timezone.now()
    wanted_entries = list(dict.fromkeys(entry_ids))
    errors: dict[str, list[str]] = {}
    if not wanted_entries and dosing_session_id is None and not include_measures:
        errors["entries"] = ["Choose entries, a dosing session, your measures, or several."]
    if len(wanted_entries) > SHARE_MAX_ENTRIES:
        errors["entries"] = [f"Share at most {SHARE_MAX_ENTRIES} entries at once."]
    with transaction.atomic():
        # Locked, so the link cannot end between this check and the share's insert.
        link = (
            CareLink.objects.select_for_update()
            .filter(pk=care_link_id, patient=patient, ended_at__isnull=True)
            .first()
        )
        if link is None:
            errors["care_link"] = ["Give the id of one of your active care links."]
        entries: list[Entry] = []
        if wanted_entries and "entries" not in errors:
            entries = list(
                Entry.objects.filter(
                    patient=patient, pk__in=wanted_entries, deleted_at__isnull=True
                )
            )
            if len(entries) != len(wanted_entries):
                errors["entries"] = ["Give ids of your own entries."]
        dosing = None
        if dosing_session_id is not None:
            dosing = _live_session(patient, dosing_session_id)
            if dosing is None or dosing.kind != SessionKind.DOSING:
                errors["dosing_session"] = ["Give the id of one of your dosing sessions."]
        integration = None
        if integration_session_id is not None:
            integration = _live_session(patient, integration_session_id)
            if (
                integration is None
                or integration.kind != SessionKind.INTEGRATION
                or integration.status != SessionStatus.SCHEDULED
                or integration.scheduled_start <= now
            ):
                errors["integration_session"] = [
                    "Give the id of one of your upcoming integration sessions."
                ]
        latest = now + SHARE_MAX_DURATION
        if expires_at is None:
            start = integration.scheduled_start if integration is not None else now
            expires_at = min(start + SHARE_DEFAULT_DURATION, latest)
        elif expires_at <= now:
            errors["expires_at"] = ["Give a time in the future."]
        elif expires_at > latest:
            errors["expires_at"] = ["A share lasts at most 90 days."]
        if errors or link is None:
            raise invalid_fields(errors)
        share = Share.objects.create(
            care_link=link,
            patient=patient,
            therapist_id=link.therapist_id,
            dosing_session=dosing,
            integration_session=integration,
            include_measures=include_measures,
            created_at=now,
            expires_at=expires_at,
        )
        SharedEntry.objects.bulk_create(
            SharedEntry(share=share, entry=entry, version_at_share=entry.version, shared_at=now)
            for entry in entries
        )
    return share


def share_revoke(*, patient: User, share_id: uuid.UUID) -> Share:
    """The therapist's next request can no longer read it. Revoking again changes nothing."""
    with transaction.atomic():
        share = Share.objects.select_for_update().filter(pk=share_id, patient=patient).first()
        if share is None:
            raise NotFound()
        if share.revoked_at is None:
            share.revoked_at = timezone.now()
            share.save(update_fields=["revoked_at"])
    return share
