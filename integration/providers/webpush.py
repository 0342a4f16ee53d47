"""Web Push (RFC 8030) with VAPID (RFC 8292) and an aes128gcm-encrypted payload (RFC 8291).

pywebpush encrypts the payload for the subscription and py_vapid signs the VAPID JWT; the
request itself goes through the shared connection pool, with the shared timeout.

Only the push services listed in WEBPUSH_ALLOWED_HOSTS are ever called
(`webpush_hosts.py`, which registration checks too).

Push services are many hosts, reached over HTTP/1.1: each one (each origin) has its own
lane, at most WEBPUSH_MAX_IN_FLIGHT_PER_HOST pushes (and so connections) at once per
process, and a 429 or a 503 with Retry-After from one pauses that one's lane only.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from py_vapid import Vapid
from pywebpush import WebPusher, WebPushException

from integration.providers.base import Outcome, PushMessage, SendResult
from integration.providers.http import (
    TRANSPORT_ERRORS,
    CachedToken,
    Lane,
    PushResponse,
    PushTransport,
    log_outcome,
    max_in_flight,
    push_ttl,
    transient_http_result,
)
from integration.providers.webpush_hosts import endpoint_url, is_plain

if TYPE_CHECKING:
    from integration.models import Device

# RFC 8292 section 2: the JWT must expire within 24 hours; it is signed for 12 and
# replaced an hour before that.
VAPID_LIFETIME_SECONDS = 12 * 60 * 60
VAPID_REFRESH_MARGIN_SECONDS = 60 * 60
_DELIVERED_STATUSES = frozenset({200, 201, 202})
_GONE_STATUSES = frozenset({404, 410})
# A push service's 429 without Retry-After pauses its lane this long.
THROTTLE_PAUSE_SECONDS = 60.0
DEFAULT_MAX_IN_FLIGHT_PER_HOST = 8
# Connections kept open across all push services (each host's lane bounds its own share).
MAX_CONNECTIONS = 64


def _vapid_key(value: str) -> Vapid:
    """A VAPID private key from a file path, a PEM text, or base64url (raw 32 bytes or DER)."""
    try:
        if os.path.isfile(value):
            with open(value) as key_file:
                value = key_file.read()
        if "-----BEGIN" in value:
            return Vapid.from_pem(value.strip().encode())
        return Vapid.from_string(value.strip())
    except Exception:
        # py_vapid raises whatever its parsers raise; the message could quote the key.
        raise ImproperlyConfigured(
            "VAPID_PRIVATE_KEY is not a P-256 private key (file, PEM or base64url)"
        ) from None


class WebPushProvider:
    name = "webpush"

    def __init__(self) -> None:
        key = str(getattr(settings, "VAPID_PRIVATE_KEY", ""))
        self._subject = str(getattr(settings, "VAPID_SUBJECT", ""))
        if not key:
            raise ImproperlyConfigured("VAPID_PRIVATE_KEY is not set")
        if not self._subject.startswith(("mailto:", "https:")):
            raise ImproperlyConfigured("VAPID_SUBJECT must be a mailto: or https: URI")
        self._vapid = _vapid_key(key)
        try:
            self._sign_vapid("https://push.example.org")
        except Exception:
            raise ImproperlyConfigured(
                "VAPID_SUBJECT is not a contact py_vapid accepts (mailto:name@domain)"
            ) from None
        self._transport = PushTransport(max_connections=MAX_CONNECTIONS)
        self._per_host = max_in_flight(
            "WEBPUSH_MAX_IN_FLIGHT_PER_HOST", DEFAULT_MAX_IN_FLIGHT_PER_HOST
        )
        # One lane per push service origin; a handful at most (they are allow-listed).
        self.lanes: dict[str, Lane] = {}
        # One VAPID JWT per push service origin (its `aud`); a handful at most.
        self._authorizations: dict[str, CachedToken] = {}

    async def send(self, device: Device, message: PushMessage) -> SendResult:
        result, reason = await self._deliver(device.token, message)
        log_outcome(self.name, device.id, message.prompt_id, result, reason=reason)
        return result

    def close(self) -> None:
        self._transport.close()

    def lane(self, origin: str) -> Lane:
        lane = self.lanes.get(origin)
        if lane is None:
            lane = self.lanes[origin] = Lane(self._per_host)
        return lane

    async def _deliver(
        self, subscription_json: str, message: PushMessage
    ) -> tuple[SendResult, str]:
        try:
            subscription = json.loads(subscription_json)
            endpoint = subscription["endpoint"]
            if not isinstance(endpoint, str) or not is_plain(endpoint):
                raise TypeError
        except (ValueError, TypeError, KeyError):
            return SendResult(Outcome.UNREGISTERED), "malformed subscription"
        url = endpoint_url(endpoint)
        if url is None:
            return SendResult(Outcome.FAILED), "push service not allowed"
        host = (url.hostname or "").lower()
        origin = f"{url.scheme}://{host}" + (f":{url.port}" if url.port else "")
        if message.is_silent:
            # Browsers show every push (userVisibleOnly): a silent one is not for them.
            return SendResult(Outcome.FAILED, was_sent=False), "silent push to a browser"
        payload = json.dumps(
            {
                "type": message.kind.value,
                "title": message.title,
                "body": message.body,
                "prompt_id": message.prompt_id,
                "link": message.link,
                "tag": message.collapse_key,
                "badge": message.badge,
            }
        ).encode()
        try:
            encrypted = WebPusher(subscription).encode(payload, "aes128gcm")["body"]
        except (WebPushException, ValueError, TypeError, KeyError):
            # Keys missing or not a P-256 point: this subscription can never receive.
            return SendResult(Outcome.UNREGISTERED), "malformed subscription keys"
        lane = self.lane(origin)
        if lane.wait_left():
            return lane.turned_away(), "push service asked to wait"
        try:
            async with lane.slot():
                if lane.wait_left():
                    return lane.turned_away(), "push service asked to wait"
                response = await self._transport.post(
                    endpoint,
                    content=encrypted,
                    headers={
                        "authorization": self._authorization(origin),
                        "content-encoding": "aes128gcm",
                        "content-type": "application/octet-stream",
                        "ttl": str(push_ttl(message.expires_at)),
                        "urgency": "high",
                        "topic": _topic(message.collapse_key),
                    },
                )
        except TRANSPORT_ERRORS as transport_error:
            return SendResult(Outcome.TRANSIENT), transport_error.__class__.__name__
        result = _result(response)
        if result.status_code == 429 or (result.status_code == 503 and result.retry_after):
            lane.pause(result.retry_after or THROTTLE_PAUSE_SECONDS)
        return result, ""

    def _authorization(self, audience: str) -> str:
        cached = self._authorizations.get(audience)
        if cached is None:
            cached = self._authorizations.setdefault(
                audience,
                CachedToken(
                    lambda: self._sign_vapid(audience), margin=VAPID_REFRESH_MARGIN_SECONDS
                ),
            )
        return cached.get()

    def _sign_vapid(self, audience: str) -> tuple[str, float]:
        expires_at = int(time.time()) + VAPID_LIFETIME_SECONDS
        headers = self._vapid.sign({"aud": audience, "exp": expires_at, "sub": self._subject})
        return str(headers["Authorization"]), float(expires_at)


def _topic(collapse_key: str) -> str:
    """RFC 8030 section 5.4: a repeated push of one prompt replaces the pending one. A topic
    is at most 32 base64url characters and the push service reads it in clear, so it is a
    digest of the prompt id rather than the id."""
    return hashlib.sha256(collapse_key.encode()).hexdigest()[:32]


def _result(response: PushResponse) -> SendResult:
    """RFC 8030 section 5 and the push services' documented answers."""
    status = response.status_code
    if status in _DELIVERED_STATUSES:
        return SendResult(Outcome.DELIVERED, status_code=status)
    if status in _GONE_STATUSES:
        return SendResult(Outcome.UNREGISTERED, status_code=status)
    if status == 429 or status >= 500:
        return transient_http_result(response)
    return SendResult(Outcome.FAILED, status_code=status)
