"""The silent push that tells a patient's apps to sync: their prompts changed (a session
moved, a prompt cancelled or made) somewhere other than on the phone that shows them.

It carries nothing but its kind (`sync`): APNs `content-available` as a background push,
FCM a data-only message. Browsers show every push, so Web Push devices get none: the web
app fetches when it is opened. Nothing is recorded per push; a dead token retires its
device as a prompt's push would. A push lost or refused costs nothing: the app syncs when
it opens anyway.
"""

from __future__ import annotations

import time
import uuid

from django.utils import timezone

from integration.delivery.selectors import signed_in
from integration.delivery.sending import Push, Sending
from integration.models import Device, Platform
from integration.providers.base import Outcome, PushMessage, provider_for

# APNs and FCM only: see the module's docstring.
SILENT_PLATFORMS = (Platform.IOS, Platform.ANDROID)
# A sync push has this long to be answered (every push has its own timeouts inside it).
WAIT_SECONDS = 60.0


def patient_sync_push(*, patient_id: str) -> int:
    """Send the silent sync push to the patient's active phones; returns how many took it."""
    devices = list(
        Device.objects.filter(
            signed_in(timezone.now()),
            user_id=uuid.UUID(str(patient_id)),
            is_active=True,
            platform__in=SILENT_PLATFORMS,
        )
    )
    if not devices:
        return 0
    message = PushMessage.sync()
    sending = Sending(
        [Push(uuid.uuid4(), device, provider_for(device.platform), message) for device in devices]
    )
    answers = []
    deadline = time.monotonic() + WAIT_SECONDS
    try:
        while sending.outstanding and time.monotonic() < deadline:
            answers += sending.answers(timeout=deadline - time.monotonic())
    finally:
        sending.cancel()
    dead = [a.push.device.pk for a in answers if a.result.outcome is Outcome.UNREGISTERED]
    if dead:
        Device.objects.filter(pk__in=dead, is_active=True).update(
            is_active=False, retired_at=timezone.now(), retired_reason="unregistered"
        )
    return sum(answer.result.outcome is Outcome.DELIVERED for answer in answers)
