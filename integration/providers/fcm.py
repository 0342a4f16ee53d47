"""Firebase Cloud Messaging, HTTP v1 API, authorized by a service account.

The access token comes from the OAuth 2.0 JWT bearer grant (RFC 7523) that Google documents
for service accounts: a JWT signed RS256 with the account's key is exchanged at its
`token_uri` for a bearer token that lives about an hour.

Sends run on the push loop: at most FCM_MAX_IN_FLIGHT (200) at once per process, as streams
of one HTTP/2 connection, or of a second while the first is at the stream limit Google's
server set (integration/providers/http2.py). Back-pressure: a 429 (QUOTA_EXCEEDED: the
project's send rate; a single device's rate, 240 a minute, is far beyond what a patient
receives) or a 503 with Retry-After pauses this process's FCM lane until then; the pushes
it turns away meanwhile make no request and their prompts retry when the pause ends.
Google's guidance: honour Retry-After, else back off exponentially
(firebase.google.com/docs/cloud-messaging/scale-fcm).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import jwt
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from integration.providers.base import Outcome, PushMessage, SendResult
from integration.providers.http import (
    TRANSPORT_ERRORS,
    AsyncCachedToken,
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

DEFAULT_BASE_URL = "https://fcm.googleapis.com"
SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_LIFETIME_SECONDS = 3600
# A token is replaced this long before Google says it expires, so none expires in flight.
TOKEN_REFRESH_MARGIN_SECONDS = 300
# 401/403 codes that a fresh access token cannot cure: the device's token belongs to another
# sender, or FCM's own credentials for APNs/Web Push are wrong.
_NOT_CURED_BY_REFRESH = frozenset({"SENDER_ID_MISMATCH", "THIRD_PARTY_AUTH_ERROR"})
_FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
# Without Retry-After, a quota answer pauses the lane this long (Google: "at least" 60 s
# before retrying after QUOTA_EXCEEDED).
QUOTA_PAUSE_SECONDS = 60.0
_BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"


@dataclass(frozen=True)
class ServiceAccount:
    client_email: str
    private_key: str = field(repr=False)
    private_key_id: str
    token_uri: str
    project_id: str

    @classmethod
    def from_file(cls, path: str) -> ServiceAccount:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as error:
            raise ImproperlyConfigured(
                f"FCM_CREDENTIALS_FILE cannot be read as JSON: {error.__class__.__name__}"
            ) from None
        missing = [k for k in ("client_email", "private_key", "token_uri") if not data.get(k)]
        if missing:
            raise ImproperlyConfigured(f"FCM_CREDENTIALS_FILE lacks {', '.join(missing)}")
        account = cls(
            client_email=str(data["client_email"]),
            private_key=str(data["private_key"]),
            private_key_id=str(data.get("private_key_id", "")),
            token_uri=str(data["token_uri"]),
            project_id=str(data.get("project_id", "")),
        )
        try:
            jwt.encode({}, account.private_key, algorithm="RS256")
        except (jwt.PyJWTError, ValueError, TypeError):
            raise ImproperlyConfigured(
                "FCM_CREDENTIALS_FILE private_key is not an RSA private key in PEM"
            ) from None
        return account


@dataclass(frozen=True)
class FcmError:
    """The parts of an FCM error body (google.rpc.Status) that decide the outcome."""

    status: str = ""
    code: str = ""
    token_is_invalid: bool = False

    @classmethod
    def of(cls, response: PushResponse) -> FcmError:
        error = json_object(response).get("error")
        if not isinstance(error, dict):
            return cls()
        code = ""
        token_is_invalid = False
        for detail in error.get("details") or []:
            if not isinstance(detail, dict):
                continue
            if detail.get("@type") == _FCM_ERROR_TYPE:
                code = str(detail.get("errorCode", ""))
            elif detail.get("@type") == _BAD_REQUEST_TYPE:
                token_is_invalid = any(
                    isinstance(violation, dict) and violation.get("field") == "message.token"
                    for violation in detail.get("fieldViolations") or []
                )
        return cls(
            status=str(error.get("status", "")), code=code, token_is_invalid=token_is_invalid
        )

    @property
    def reason(self) -> str:
        return self.code or self.status


class _AccessTokenError(Exception):
    def __init__(self, result: SendResult, reason: str) -> None:
        super().__init__(reason)
        self.result = result
        self.reason = reason


class FcmProvider:
    name = "fcm"

    def __init__(self) -> None:
        path = str(getattr(settings, "FCM_CREDENTIALS_FILE", ""))
        if not path:
            raise ImproperlyConfigured("FCM_CREDENTIALS_FILE is not set")
        self._account = ServiceAccount.from_file(path)
        project_id = str(getattr(settings, "FCM_PROJECT_ID", "")) or self._account.project_id
        if not project_id:
            raise ImproperlyConfigured("FCM_PROJECT_ID is not set (nor project_id in the file)")
        base_url = str(getattr(settings, "FCM_BASE_URL", DEFAULT_BASE_URL)).rstrip("/")
        self._send_url = f"{base_url}/v1/projects/{project_id}/messages:send"
        self.lane = Lane(max_in_flight("FCM_MAX_IN_FLIGHT"))
        # Google's endpoints speak HTTP/2: every push in flight is a stream.
        self._transport = Http2Transport(timeout=push_timeout())
        self._access_token = AsyncCachedToken(
            self._fetch_access_token, margin=TOKEN_REFRESH_MARGIN_SECONDS
        )

    async def send(self, device: Device, message: PushMessage) -> SendResult:
        body = {"message": {"token": device.token, **_payload(message)}}
        if self.lane.wait_left():
            return self.lane.turned_away()
        async with self.lane.slot():
            if self.lane.wait_left():  # paused while this push waited for its slot
                return self.lane.turned_away()
            result, reason = await self._deliver(body)
        if result.status_code == 429 or (result.status_code == 503 and result.retry_after):
            self.lane.pause(result.retry_after or QUOTA_PAUSE_SECONDS)
        log_outcome(self.name, device.id, message.prompt_id, result, reason=reason)
        return result

    def close(self) -> None:
        self._transport.close()

    async def _deliver(self, body: dict[str, Any]) -> tuple[SendResult, str]:
        try:
            access_token = await self._access_token.get()
            response = await self._post(body, access_token)
            error = FcmError.of(response)
            if response.status_code in (401, 403) and error.code not in _NOT_CURED_BY_REFRESH:
                # Revoked or expired early: one fresh token, once.
                self._access_token.invalidate(access_token)
                response = await self._post(body, await self._access_token.get())
                error = FcmError.of(response)
        except _AccessTokenError as token_error:
            return token_error.result, token_error.reason
        except TRANSPORT_ERRORS as transport_error:
            return SendResult(Outcome.TRANSIENT), transport_error.__class__.__name__
        return _result(response, error), error.reason

    async def _post(self, body: dict[str, Any], access_token: str) -> PushResponse:
        return await self._transport.post(
            self._send_url,
            headers={
                "authorization": f"Bearer {access_token}",
                "content-type": "application/json",
            },
            content=json.dumps(body, separators=(",", ":")).encode(),
        )

    async def _fetch_access_token(self) -> tuple[str, float]:
        now = int(time.time())
        account = self._account
        assertion = jwt.encode(
            {
                "iss": account.client_email,
                "scope": SCOPE,
                "aud": account.token_uri,
                "iat": now,
                "exp": now + ASSERTION_LIFETIME_SECONDS,
            },
            account.private_key,
            algorithm="RS256",
            headers={"kid": account.private_key_id} if account.private_key_id else None,
        )
        response = await self._transport.post(
            account.token_uri,
            headers={"content-type": "application/x-www-form-urlencoded"},
            content=urlencode({"grant_type": JWT_BEARER_GRANT, "assertion": assertion}).encode(),
        )
        payload = json_object(response)
        if response.status_code == 429 or response.status_code >= 500:
            raise _AccessTokenError(transient_http_result(response), "token endpoint unavailable")
        access_token = payload.get("access_token")
        if response.status_code != 200 or not isinstance(access_token, str):
            # Google's OAuth error code ("invalid_grant", ...) says what is wrong; it holds
            # no secret.
            reason = f"token endpoint: {payload.get('error', 'no access_token')}"
            raise _AccessTokenError(
                SendResult(Outcome.FAILED, status_code=response.status_code), reason
            )
        expires_in = payload.get("expires_in", ASSERTION_LIFETIME_SECONDS)
        if not isinstance(expires_in, int | float):
            expires_in = ASSERTION_LIFETIME_SECONDS
        return access_token, now + float(expires_in)


def _payload(message: PushMessage) -> dict[str, Any]:
    """The message's FCM fields (docs/push-payloads.md). Data values are strings, as FCM
    requires."""
    if message.is_silent:
        # Data only: nothing is shown; the app's messaging service syncs. Normal priority:
        # it may wait for the device to wake, which a sync can.
        return {
            "data": {"type": message.kind.value},
            "android": {"priority": "normal", "collapse_key": message.collapse_key},
        }
    data = {"type": message.kind.value, "prompt_id": message.prompt_id, "link": message.link}
    notification: dict[str, Any] = {
        # The tag makes a repeated push of one prompt replace the first in the drawer.
        "tag": message.collapse_key,
        "channel_id": message.route.channel,
    }
    if message.badge is not None:
        data["badge"] = str(message.badge)
        notification["notification_count"] = message.badge
    return {
        "notification": {"title": message.title, "body": message.body},
        "data": data,
        "android": {
            "priority": "high",
            # FCM keeps a message four weeks unless told otherwise.
            "ttl": f"{push_ttl(message.expires_at)}s",
            "notification": notification,
        },
    }


def _result(response: PushResponse, error: FcmError) -> SendResult:
    """FCM's documented errors (firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode)."""
    status = response.status_code
    if status == 200:
        return SendResult(Outcome.DELIVERED, status_code=status)
    if "UNREGISTERED" in (error.code, error.status):
        return SendResult(Outcome.UNREGISTERED, status_code=status)
    if status == 400 and error.token_is_invalid:
        return SendResult(Outcome.UNREGISTERED, status_code=status)
    if status == 429 or status >= 500:
        return transient_http_result(response)
    return SendResult(Outcome.FAILED, status_code=status)
