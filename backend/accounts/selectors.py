"""Accounts: reads. Each takes the caller, so it can only see what is theirs."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.module_loading import import_string
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from backend.accounts.models import DeviceToken, User


def user_get_by_email(*, email: str) -> User | None:
    """For operators' commands; the API never looks users up by address."""
    return User.objects.filter(email=email.strip().lower()).first()


def device_token_list_for_user(*, user: User) -> QuerySet[DeviceToken]:
    """The user's tokens that still work, newest first."""
    return user.auth_token_set.filter(
        Q(expiry__isnull=True) | Q(expiry__gt=timezone.now())
    ).order_by("-created")


def totp_device_confirmed_for_user(*, user: User) -> TOTPDevice | None:
    device: TOTPDevice | None = (
        TOTPDevice.objects.filter(user=user, confirmed=True).order_by("-id").first()
    )
    return device


def recovery_device_for_user(*, user: User) -> StaticDevice | None:
    """The account's recovery codes (django-otp's static device), if it has a set."""
    device: StaticDevice | None = StaticDevice.objects.filter(user=user, confirmed=True).first()
    return device


def totp_secret_base32(*, device: TOTPDevice) -> str:
    """The shared secret as authenticator apps take it when typed in (RFC 4648 base32)."""
    return base64.b32encode(device.bin_key).decode()


def device_push_states(*, user: User, token_digests: Sequence[str]) -> dict[str, Any]:
    """The push registration of each of these sign-ins ({token digest: state}), from the
    apps that keep them (settings.ACCOUNT_DEVICE_PUSH_HOOKS; accounts import nothing above)."""
    states: dict[str, Any] = {}
    for path in settings.ACCOUNT_DEVICE_PUSH_HOOKS:
        states.update(import_string(path)(user=user, token_digests=list(token_digests)))
    return states
