"""API token authentication: knox device tokens, with their last use recorded."""

from __future__ import annotations

import binascii
from collections.abc import Iterable
from functools import cache
from hmac import compare_digest
from typing import Any

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from knox.auth import TokenAuthentication
from knox.crypto import hash_token
from knox.settings import CONSTANTS, knox_settings
from knox.signals import token_expired
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from backend import sql
from backend.accounts.lifetimes import token_expiry
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

    def renew_token(self, auth_token: DeviceToken) -> None:
        """Move the expiry back on use, by the owner's lifetime (backend.accounts.lifetimes:
        patients without a fixed end, therapists up to a maximum age); the new expiry is
        written at most once a minute."""
        current = auth_token.expiry
        auth_token.expiry = token_expiry(user=auth_token.user, created=auth_token.created)
        if (auth_token.expiry - current).total_seconds() > knox_settings.MIN_REFRESH_INTERVAL:
            DeviceToken.objects.filter(pk=auth_token.pk).update(expiry=auth_token.expiry)

    def authenticate_credentials(self, token: bytes) -> tuple[User, DeviceToken]:
        """The device token whose digest matches, with its user; 401 otherwise.

        knox's check (tokens are found by their first characters, then compared by digest
        in constant time; an expired one is deleted and never matches; a matching one is
        renewed at most once a minute), with the lookup as one hand-written statement
        where backend.sql has it: every authenticated request makes it, and the ORM
        spent more building that join than PostgreSQL spent running it.
        """
        try:
            text = token.decode("utf-8")
        except UnicodeDecodeError:
            raise AuthenticationFailed(_("Invalid token.")) from None
        digest: str | None = None
        for candidate in _tokens_with_user(text[: CONSTANTS.TOKEN_KEY_LENGTH]):
            if self._cleanup_token(candidate):
                continue
            if digest is None:
                try:
                    digest = hash_token(text)
                except (TypeError, binascii.Error):
                    break
            if compare_digest(digest, candidate.digest):
                if knox_settings.AUTO_REFRESH and candidate.expiry:
                    self.renew_token(candidate)
                user_and_token: tuple[User, DeviceToken] = self.validate_user(candidate)
                return user_and_token
        raise AuthenticationFailed(_("Invalid token."))

    def _cleanup_token(self, auth_token: DeviceToken) -> bool:
        """Whether the presented token has expired (it is deleted then).

        knox's own version also loads every other token of the user, on every request, to
        delete the expired ones; signing in does that sweep here (accounts.services), and
        the devices list shows live tokens only. So a request costs one query, not two.
        """
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            username = auth_token.user.get_username()
            # As a sign-out: its push registration is retired with it. (Imported here:
            # DRF loads this module while its views module is still importing.)
            from backend.accounts.services import device_token_revoke

            device_token_revoke(device=auth_token)
            token_expired.send(sender=self.__class__, username=username, source="auth_token")
            return True
        return False


def _tokens_with_user(token_key: str) -> Iterable[DeviceToken]:
    if not sql.is_available():
        tokens: Iterable[DeviceToken] = DeviceToken.objects.filter(
            token_key=token_key
        ).select_related("user")
        return tokens
    with connection.cursor() as cursor:
        cursor.execute(_token_select(), [token_key])
        rows = cursor.fetchall()
    width = len(DeviceToken._meta.concrete_fields)
    found = []
    for row in rows:
        device_token = sql.instance(DeviceToken, row[:width])
        DeviceToken._meta.get_field("user").set_cached_value(
            device_token, sql.instance(User, row[width:])
        )
        found.append(device_token)
    return found


@cache
def _token_select() -> str:
    quote = connection.ops.quote_name
    return (
        f"SELECT {sql.column_list(DeviceToken, 't')}, {sql.column_list(User, 'u')} "  # noqa: S608 (names only)
        f"FROM {quote(DeviceToken._meta.db_table)} t "
        f"JOIN {quote(User._meta.db_table)} u "
        f"ON u.{sql.quoted(User, 'id')} = t.{sql.quoted(DeviceToken, 'user')} "
        f"WHERE t.{sql.quoted(DeviceToken, 'token_key')} = %s"
    )


class DeviceTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """Describes DeviceTokenAuthentication in the OpenAPI schema."""

    target_class = "backend.accounts.authentication.DeviceTokenAuthentication"
    name = "knoxApiToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        definition: dict[str, Any] = build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix=knox_settings.AUTH_HEADER_PREFIX
        )
        return definition
