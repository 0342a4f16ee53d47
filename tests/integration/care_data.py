"""Test data for care links and shares, made through the services the API calls, and
clients signed in with real device tokens (the therapist permission reads the token)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.utils import timezone
from rest_framework.test import APIClient

from backend.accounts.models import User
from integration.care import links, shares
from integration.models import CareLink, Share
from journal.entries import services
from journal.models import Entry, TreatmentSession
from tests.accounts.factories import issue_token
from tests.accounts.helpers import authorized


def signed_in(user: User, *, second_factor: bool = True) -> APIClient:
    """A client holding a real DeviceToken; for therapists, with TOTP checked or not."""
    return authorized(issue_token(user, second_factor=second_factor))


def client_of(user: User) -> APIClient:
    """A client authenticated as `user` without a token (no sign-in, no second factor)."""
    client = APIClient()
    client.force_authenticate(user)
    return client


def make_entry(patient: User, *, kind: str = "note", **fields: Any) -> Entry:
    fields.setdefault("title", f"{kind} title")
    fields.setdefault("body", f"{kind} body")
    return services.entry_create(patient=patient, kind=kind, **fields).record


def edit_entry(entry: Entry, **fields: Any) -> Entry:
    return services.entry_update(
        patient=entry.patient, entry_id=entry.id, data=fields, expected_versions=None
    )


def make_link(patient: User, therapist: User, **fields: Any) -> CareLink:
    """A link as a redeemed invitation makes it."""
    code = links.invitation_create(therapist=therapist).code
    return links.care_link_create(patient=patient, code=code, **fields)


def make_share(
    link: CareLink,
    *,
    entries: Sequence[Entry] = (),
    dosing_session: TreatmentSession | None = None,
    integration_session: TreatmentSession | None = None,
    expires_at: dt.datetime | None = None,
    include_measures: bool = False,
) -> Share:
    return shares.share_create(
        patient=link.patient,
        care_link_id=link.id,
        entry_ids=[entry.id for entry in entries],
        dosing_session_id=dosing_session.id if dosing_session else None,
        integration_session_id=integration_session.id if integration_session else None,
        expires_at=expires_at,
        include_measures=include_measures,
    )


def expire(share: Share) -> Share:
    """Let a share's time run out (a share cannot be made with a past expiry)."""
    Share.objects.filter(pk=share.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    share.refresh_from_db()
    return share
