"""Reads of push devices."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet
from rest_framework.exceptions import NotFound

from backend.accounts.models import User
from integration.models import Device, PushPermission


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
        Device.objects.filter(user=patient, is_active=True)
        .exclude(push_permission=PushPermission.REFUSED)
        .exists()
    )
