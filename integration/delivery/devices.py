"""Writes of push devices: register a platform token (canonical form, hashed for lookups),
retire one.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework.exceptions import NotFound

from backend.accounts.models import DeviceToken, User
from backend.errors import ProblemError, invalid_fields
from backend.problem_codes import ProblemCode
from integration.models import (
    Device,
    Platform,
    PushPermission,
)
from integration.providers.webpush_hosts import endpoint_url

# Push devices ---------------------------------------------------------------------------

MAX_ACTIVE_DEVICES = 20
TOKEN_SUFFIX_CHARS = 6
ANDROID_TOKEN_MAX_CHARS = 4096
APNS_TOKEN_MAX_CHARS = 200
WEB_ENDPOINT_MAX_CHARS = 2048
_HEX_TOKEN = re.compile(r"[0-9a-fA-F]{64,200}")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")
# A P-256 public key uncompressed (RFC 8291: 65 bytes) and a 16-byte auth secret.
_P256DH_BYTES = 65
_AUTH_BYTES = 16
WEB_ENDPOINT_REFUSED = (
    "The subscription's endpoint is not a push service this server sends to (an https URL "
    "of an allowed push service, in plain characters)."
)


@dataclass(frozen=True)
class Registered:
    device: Device
    is_new: bool


def _base64url_bytes(value: Any) -> bytes | None:
    if not isinstance(value, str) or not _BASE64URL.fullmatch(value):
        return None
    text = value.rstrip("=")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def _web_subscription(token: Any) -> str | None:
    """A Web Push subscription (PushSubscription.toJSON()) as canonical JSON, or None."""
    if isinstance(token, str):
        try:
            token = json.loads(token)
        except ValueError:
            return None
    if not isinstance(token, Mapping) or set(token) - {"endpoint", "keys", "expirationTime"}:
        return None
    endpoint, keys = token.get("endpoint"), token.get("keys")
    if not isinstance(endpoint, str) or len(endpoint) > WEB_ENDPOINT_MAX_CHARS:
        return None
    if endpoint.startswith("https://") and endpoint_url(endpoint) is None:
        # The sender would refuse it at every push (the same allow-list and checks).
        raise invalid_fields({"token": [WEB_ENDPOINT_REFUSED]})
    try:
        URLValidator(schemes=["https"])(endpoint)
    except DjangoValidationError:
        return None
    if not isinstance(keys, Mapping) or set(keys) != {"p256dh", "auth"}:
        return None
    p256dh, auth = _base64url_bytes(keys["p256dh"]), _base64url_bytes(keys["auth"])
    if p256dh is None or len(p256dh) != _P256DH_BYTES or p256dh[0] != 0x04:
        return None
    if auth is None or len(auth) != _AUTH_BYTES:
        return None
    subscription = {"endpoint": endpoint, "keys": {"p256dh": keys["p256dh"], "auth": keys["auth"]}}
    return json.dumps(subscription, sort_keys=True, separators=(",", ":"))


def _canonical_token(platform: str, token: Any) -> str:
    """The token as stored (and hashed), or a 400 naming the expected form (never the
    token itself)."""
    if platform == Platform.IOS:
        if isinstance(token, str) and _HEX_TOKEN.fullmatch(token):
            return token.lower()
        message = "An APNs device token: 64 to 200 hexadecimal characters."
    elif platform == Platform.ANDROID:
        if (
            isinstance(token, str)
            and 0 < len(token) <= ANDROID_TOKEN_MAX_CHARS
            and token.isprintable()
            and not any(character.isspace() for character in token)
        ):
            return token
        message = (
            f"An FCM registration token: 1 to {ANDROID_TOKEN_MAX_CHARS} characters without spaces."
        )
    elif platform == Platform.WEB:
        subscription = _web_subscription(token)
        if subscription is not None:
            return subscription
        message = (
            "A Web Push subscription: {endpoint (an https URL), keys: {p256dh (a P-256 "
            "public key), auth (16 bytes)}}, both keys base64url."
        )
    else:
        raise invalid_fields({"platform": ["Choose one of: " + ", ".join(Platform.values) + "."]})
    raise invalid_fields({"token": [message]})


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_suffix(device: Device) -> str:
    """The last characters of the token (of a Web Push endpoint) to tell devices apart;
    never the whole token."""
    token = device.token
    if device.platform == Platform.WEB:
        try:
            token = str(json.loads(token)["endpoint"])
        except (ValueError, KeyError, TypeError):
            token = ""
    return token[-TOKEN_SUFFIX_CHARS:]


def _retire(queryset: Any, reason: str, now: dt.datetime) -> int:
    updated: int = queryset.filter(is_active=True).update(
        is_active=False, retired_at=now, retired_reason=reason
    )
    return updated


def device_register(
    *,
    patient: User,
    platform: str,
    token: Any,
    sign_in: DeviceToken | None = None,
    push_permission: str | None = None,
) -> Registered:
    """Register a push destination under a sign-in (`sign_in`, the device token of the
    request): the two are one device, and signing it out retires this registration. The
    same token again answers the existing device (bound to this sign-in now); a token
    another account registered (a shared or handed-on phone) moves to this one; a new
    token from a sign-in replaces the one it registered before.
    `push_permission` (None: unknown, or unchanged on a repeat) is what the phone's system
    lets the app show; a refused device is sent no push."""
    canonical = _canonical_token(platform, token)
    digest = token_hash(canonical)
    now = timezone.now()
    with transaction.atomic():
        for _ in range(_REGISTER_TRIES):
            registered = _register_once(
                patient, platform, canonical, digest, sign_in, push_permission, now
            )
            if registered is not None:
                return registered
    # Each lost race means another registration of the token committed: only a crowd of
    # them at once gets here.
    raise ProblemError(
        409,
        ProblemCode.CONFLICT,
        "This push token is being registered by other requests at once: try again.",
        headers={"Retry-After": "1"},
    )


# A registration that loses the race for a token to a concurrent one looks again: that one
# has committed (PostgreSQL's unique check waited for it), so the next look finds it.
_REGISTER_TRIES = 3


def _register_once(
    patient: User,
    platform: str,
    canonical: str,
    digest: str,
    sign_in: DeviceToken | None,
    push_permission: str | None,
    now: dt.datetime,
) -> Registered | None:
    """One look and write of `device_register`; None when a concurrent registration of the
    token committed first (a repeat of ours, or another account's to move)."""
    current = Device.objects.select_for_update().filter(token_hash=digest, is_active=True)
    device = current.first()
    if device is not None and device.user_id == patient.pk and device.platform == platform:
        fields = []
        if sign_in is not None and device.sign_in_id != sign_in.pk:
            device.sign_in = sign_in
            fields.append("sign_in")
        if push_permission is not None and device.push_permission != push_permission:
            device.push_permission = push_permission
            fields.append("push_permission")
        if fields:
            device.save(update_fields=fields)
        _retire_earlier_of_sign_in(sign_in, keep=device, now=now)
        return Registered(device, is_new=False)
    if device is not None:
        _retire(Device.objects.filter(pk=device.pk), "reassigned", now)
    _retire_earlier_of_sign_in(sign_in, keep=None, now=now)
    active = Device.objects.filter(user=patient, is_active=True).order_by("-created_at")
    surplus = list(active.values_list("pk", flat=True)[MAX_ACTIVE_DEVICES - 1 :])
    if surplus:
        _retire(Device.objects.filter(pk__in=surplus), "replaced", now)
    device = Device(
        user=patient,
        platform=platform,
        token=canonical,
        token_hash=digest,
        created_at=now,
        sign_in=sign_in,
        push_permission=push_permission or PushPermission.UNKNOWN,
    )
    try:
        with transaction.atomic():
            device.save(force_insert=True)
    except IntegrityError:
        return None  # the same token registered by a concurrent request: look again
    return Registered(device, is_new=True)


def _retire_earlier_of_sign_in(
    sign_in: DeviceToken | None, *, keep: Device | None, now: dt.datetime
) -> None:
    """A sign-in is one device with one push registration: a new token it registers (the
    system replaced the app's token) replaces the one it registered before, which would
    otherwise be pushed to as well, and outlive a refused permission sent for the new one."""
    if sign_in is None:
        return
    earlier = Device.objects.filter(sign_in=sign_in)
    if keep is not None:
        earlier = earlier.exclude(pk=keep.pk)
    _retire(earlier, "replaced", now)


def device_update(
    *, patient: User, device_id: uuid.UUID, push_permission: str | None = None
) -> Device:
    """Record that the device's notification permission changed (the patient allowed or
    refused them in the system's settings; None: unchanged). From then on dispatch pushes
    to it or not, and the patient's `local_notifications` in sync follows. A retired
    device, or one that is not the patient's, is not found."""
    with transaction.atomic():
        device = (
            Device.objects.select_for_update()
            .filter(pk=device_id, user=patient, is_active=True)
            .first()
        )
        if device is None:
            raise NotFound()
        if push_permission is not None and device.push_permission != push_permission:
            device.push_permission = push_permission
            device.save(update_fields=["push_permission"])
    return device


def device_retire(*, patient: User, device_id: uuid.UUID, reason: str = "user") -> Device:
    """Stop sending to a device (it stays, retired, in the history). Retiring a retired
    device changes nothing."""
    device = Device.objects.filter(pk=device_id, user=patient).first()
    if device is None:
        raise NotFound()
    _retire(Device.objects.filter(pk=device.pk), reason, timezone.now())
    device.refresh_from_db()
    return device


def devices_retire_for_sign_out(
    *, user: User, token_digests: Sequence[str], every_sign_in: bool
) -> int:
    """ACCOUNT_SIGN_OUT_HOOKS: the sign-ins named by `token_digests` end (signed out,
    revoked, replaced by a new sign-in, expired), so their push registrations are retired
    in the same transaction: a signed-out phone receives nothing more. When every sign-in
    of the account ends (sign out everywhere, a password reset, deactivation, erasure),
    registrations bound to no sign-in (made before sign-ins and pushes were one device)
    are retired too. Returns how many were retired."""
    bound = Q(sign_in_id__in=list(token_digests))
    if every_sign_in:
        bound |= Q(sign_in__isnull=True)
    return _retire(Device.objects.filter(user=user).filter(bound), "signed_out", timezone.now())


def devices_erase(*, user: User) -> int:
    """ACCOUNT_ERASURE_HOOKS: delete the account's push registrations, retired ones
    included (a push token is personal data); their delivery log keeps no link to them."""
    deleted, _ = Device.objects.filter(user=user).delete()
    return deleted
