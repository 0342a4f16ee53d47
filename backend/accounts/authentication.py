"""API token authentication: knox device tokens, with their last use recorded."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from knox.auth import TokenAuthentication
from rest_framework.request import Request

from backend.accounts.models import DeviceToken, User

# Writing last_used_at on every request would turn reads into writes; once a minute is
# enough to show "last used" on the devices list.
LAST_USED_RESOLUTION_SECONDS = 60


class DeviceTokenAuthentication(TokenAuthentication):  # type: ignore[misc]
    """Knox token auth ("Authorization: Token <token>") for one device."""

    def authenticate(self, request: Request) -> tuple[User, DeviceToken] | None:
        result: Any = super().authenticate(request)
        if result is None:
            return None
        user, token = result
        now = timezone.now()
        if (
            token.last_used_at is None
            or (now - token.last_used_at).total_seconds() > LAST_USED_RESOLUTION_SECONDS
        ):
            DeviceToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
        return user, token
