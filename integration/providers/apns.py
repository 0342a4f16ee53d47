"""Apple Push Notification service over HTTP/2 with token-based (JWT) authentication.

Apple's "Establishing a token-based connection to APNs": the provider token is an ES256 JWT
with the key id as `kid` and the team id as `iss`, renewed no more often than every 20
minutes and no less often than every 60.

Sends run on the push loop: at most APNS_MAX_IN_FLIGHT (200) at once per process, as
streams of one HTTP/2 connection, another only while it is at the stream limit Apple set
(Apple: "keep your connections with APNs open across multiple notifications"). Back-
pressure: APNs' 429 TooManyRequests is about one device token ("too many requests were made
consecutively to the same device token"), so only that push's prompt retries later (after
Retry-After when given); the rest of the batch goes on. A GOAWAY or a reset stream fails
only the pushes still in flight on it, as transient; the transport opens a new connection
for the others (streams the server never took are sent again there at once).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jwt
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from integration.providers.base import Outcome, PushMessage, SendResult
from integration.providers.http import (
    TRANSPORT_ERRORS,
    CachedToken,
    Lane,
    PushResponse,
    json_object,
    log_outcome,
    max_in_flight,
    push_timeout,
    push_ttl,
    transient_http_result,
)
from integration.providers.http2 import Http2Transport

if TYPE_CHECKING:
    from integration.models import Device

DEFAULT_BASE_URL = "https://api.push.apple.com"
PROVIDER_TOKEN_LIFETIME_SECONDS = 50 * 60
# A device token is hex; Apple asks not to assume its length. Anything else would be
# pasted into the request path, so it is refused before any request.
_DEVICE_TOKEN = re.compile(r"[0-9a-fA-F]{32,400}")
# DeviceTokenNotForTopic is not among them: Apple answers it for every token when our own
# APNS_TOPIC is wrong, and retiring every iOS device for a configuration error would be
# worse than a failed push (the inbox still has the prompt).
_DEAD_TOKEN_REASONS = frozenset({"BadDeviceToken"})


def _required(name: str) -> str:
    value = str(getattr(settings, name, ""))
    if not value:
        raise ImproperlyConfigured(f"{name} is not set")
    return value


class ApnsProvider:
    name = "apns"

    def __init__(self) -> None:
        key_file = _required("APNS_KEY_FILE")
        self._key_id = _required("APNS_KEY_ID")
        self._team_id = _required("APNS_TEAM_ID")
        self._topic = _required("APNS_TOPIC")
        try:
            self._signing_key = Path(key_file).read_text()
        except OSError as error:
            raise ImproperlyConfigured(
                f"APNS_KEY_FILE cannot be read: {error.__class__.__name__}"
            ) from None
        try:
            jwt.encode({}, self._signing_key, algorithm="ES256")
        except (jwt.PyJWTError, ValueError, TypeError):
            raise ImproperlyConfigured(
                "APNS_KEY_FILE is not an EC P-256 private key in PEM (.p8)"
            ) from None
        base_url = str(getattr(settings, "APNS_BASE_URL", DEFAULT_BASE_URL)).rstrip("/")
        self._device_url = f"{base_url}/3/device/"
        self.lane = Lane(max_in_flight("APNS_MAX_IN_FLIGHT"))
        self._transport = Http2Transport(timeout=push_timeout())
        self._provider_token = CachedToken(self._sign_provider_token, margin=0)

    def __repr__(self) -> str:
        return f"ApnsProvider(topic={self._topic!r})"

    async def send(self, device: Device, message: PushMessage) -> SendResult:
        if not _DEVICE_TOKEN.fullmatch(device.token):
            result = SendResult(Outcome.UNREGISTERED)
            log_outcome(self.name, device.id, message.prompt_id, result, reason="malformed token")
            return result
        async with self.lane.slot():
            result, reason = await self._deliver(device.token, message)
        log_outcome(self.name, device.id, message.prompt_id, result, reason=reason)
        return result

    def close(self) -> None:
        self._transport.close()

    async def _deliver(self, device_token: str, message: PushMessage) -> tuple[SendResult, str]:
        body = _payload(message)
        headers = {
            "apns-topic": self._topic,
            # Apple: a background push is of type `background` with priority 5.
            "apns-push-type": "background" if message.is_silent else "alert",
            "apns-priority": "5" if message.is_silent else "10",
            "apns-expiration": str(int(time.time()) + push_ttl(message.expires_at)),
            # A repeated push of one prompt replaces the first on the device (at most 64 bytes).
            "apns-collapse-id": message.collapse_key[:64],
        }
        try:
            provider_token = self._provider_token.get()
            response = await self._post(device_token, body, headers, provider_token)
            reason = _reason(response)
            if response.status_code == 403 and reason == "ExpiredProviderToken":
                self._provider_token.invalidate(provider_token)
                response = await self._post(device_token, body, headers, self._provider_token.get())
                reason = _reason(response)
        except TRANSPORT_ERRORS as transport_error:
            return SendResult(Outcome.TRANSIENT), transport_error.__class__.__name__
        return _result(response, reason), reason

    async def _post(
        self,
        device_token: str,
        body: dict[str, Any],
        headers: dict[str, str],
        provider_token: str,
    ) -> PushResponse:
        return await self._transport.post(
            self._device_url + device_token,
            headers={
                **headers,
                "authorization": f"bearer {provider_token}",
                "content-type": "application/json",
            },
            content=json.dumps(body, separators=(",", ":")).encode(),
        )

    def _sign_provider_token(self) -> tuple[str, float]:
        now = int(time.time())
        token = jwt.encode(
            {"iss": self._team_id, "iat": now},
            self._signing_key,
            algorithm="ES256",
            headers={"kid": self._key_id},
        )
        return token, now + PROVIDER_TOKEN_LIFETIME_SECONDS


def _payload(message: PushMessage) -> dict[str, Any]:
    """The APNs payload (docs/push-payloads.md)."""
    if message.is_silent:
        # "content-available" alone wakes the app in the background to fetch; nothing is
        # shown (Apple, "Pushing background updates to your App").
        return {"aps": {"content-available": 1}, "type": message.kind.value}
    aps: dict[str, Any] = {
        "alert": {"title": message.title, "body": message.body},
        "sound": "default",
        "category": message.route.category,
        "thread-id": message.route.thread,
    }
    if message.badge is not None:
        aps["badge"] = message.badge
    return {
        "aps": aps,
        "type": message.kind.value,
        "prompt_id": message.prompt_id,
        "link": message.link,
    }


def _reason(response: PushResponse) -> str:
    if response.status_code == 200:
        return ""
    return str(json_object(response).get("reason", ""))


def _result(response: PushResponse, reason: str) -> SendResult:
    """Apple's documented responses ("Handling notification responses from APNs")."""
    status = response.status_code
    if status == 200:
        return SendResult(Outcome.DELIVERED, status_code=status)
    if status == 410 or (status == 400 and reason in _DEAD_TOKEN_REASONS):
        return SendResult(Outcome.UNREGISTERED, status_code=status)
    if status == 429 or status >= 500:
        return transient_http_result(response)
    return SendResult(Outcome.FAILED, status_code=status)
