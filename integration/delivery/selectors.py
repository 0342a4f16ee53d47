"""Reads of push devices."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone
from rest_framework.exceptions import NotFound

from backend.accounts.models import User
from integration.models import Device, PushPermission


def signed_in(now: dt.datetime) -> Q:
    """Push devices whose sign-in has not expired (or that have none: made before sign-ins
    and pushes were one device). An expired sign-in is retired with its push when it is
    next presented, or at the account's next sign-in; a phone put away never presents it,
    and is pushed nothing from its expiry on all the same."""
    return Q(sign_in__isnull=True) | Q(sign_in__expiry__isnull=True) | Q(sign_in__expiry__gt=now)


def device_list_for_patient(*, patient: User) -> QuerySet[Device]:
    """The patient's active push devices, oldest first."""
    return Device.objects.filter(user=patient, is_active=True).order_by("created_at", "id")


def device_get_for_patient(*, patient: User, device_id: uuid.UUID) -> Device:
    """One of the patient's push devices, retired ones too; NotFound alike for missing and
    not theirs."""
    device = Device.objects.filter(user=patient, pk=device_id).first()
    if device is None:
        raise NotFound()
    return device


def push_state_for_sign_ins(*, user: User, token_digests: Sequence[str]) -> dict[str, Any]:
    """ACCOUNT_DEVICE_PUSH_HOOKS: the live push registration of each of these sign-ins,
    for the account's devices list: {token digest: {"id", "platform", "registered_at"}}."""
    devices = Device.objects.filter(
        user=user, is_active=True, sign_in_id__in=list(token_digests)
    ).order_by("created_at")
    return {
        str(device.sign_in_id): {
            "id": device.pk,
            "platform": device.platform,
            "registered_at": device.created_at,
        }
        for device in devices
    }


def patient_is_push_capable(*, patient: User) -> bool:
    """JOURNAL_PUSH_CAPABLE_HOOKS: whether a device of the patient takes pushes (active, and
    notifications not refused): then the app schedules no local notifications."""
    return (
        Device.objects.filter(signed_in(timezone.now()), user=patient, is_active=True)
        .exclude(push_permission=PushPermission.REFUSED)
        .exists()
    )
