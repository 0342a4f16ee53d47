"""Reads of push devices."""

from __future__ import annotations

from django.db.models import QuerySet

from backend.accounts.models import User
from integration.models import (
    Device,
)


def device_list_for_patient(*, patient: User) -> QuerySet[Device]:
    """The patient's active push devices, oldest first."""
    return Device.objects.filter(user=patient, is_active=True).order_by("created_at", "id")
