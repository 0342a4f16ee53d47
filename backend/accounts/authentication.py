"""API token authentication: knox device tokens, with their last use recorded."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from knox.auth import TokenAuthentication
from knox.settings import knox_settings
from knox.signals import token_expired
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

    def _cleanup_token(self, auth_token: DeviceToken) -> bool:
        """Whether the presented token has expired (it is deleted then).

        knox's own version also loads every other token of the user, on every request, to
        delete the expired ones; signing in does that sweep here (accounts.services), and
        the devices list shows live tokens only. So a request costs one query, not two.
        """
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            username = auth_token.user.get_username()
            auth_token.delete()
            token_expired.send(sender=self.__class__, username=username, source="auth_token")
            return True
        return False


class DeviceTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """Describes DeviceTokenAuthentication in the OpenAPI schema."""

    target_class = "backend.accounts.authentication.DeviceTokenAuthentication"
    name = "knoxApiToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        definition: dict[str, Any] = build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix=knox_settings.AUTH_HEADER_PREFIX
        )
        return definition
