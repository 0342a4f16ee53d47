"""Firebase Cloud Messaging, HTTP v1 API, authorized by a service account.

The access token comes from the OAuth 2.0 JWT bearer grant (RFC 7523) that Google documents
for service accounts: a JWT signed RS256 with the account's key is exchanged at its
`token_uri` for a bearer token that lives about an hour.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import jwt
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from integration.providers.base import Outcome, PushMessage, SendResult
from integration.providers.http import (
    CachedToken,
    ProcessClient,
    json_object,
    log_outcome,
    make_client,
    transient_http_result,
)

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
    def of(cls, response: httpx.Response) -> FcmError:
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
        self._client = ProcessClient(make_client)
        self._access_token = CachedToken(
            self._fetch_access_token, margin=TOKEN_REFRESH_MARGIN_SECONDS
        )

    def send(self, device: Device, message: PushMessage) -> SendResult:
        body = {
            "message": {
                "token": device.token,
                "notification": {"title": message.title, "body": message.body},
                "data": {"prompt_id": message.prompt_id},
                # The tag makes a repeated push of one prompt replace the first in the
                # notification drawer.
                "android": {"priority": "high", "notification": {"tag": message.prompt_id}},
            }
        }
        result, reason = self._deliver(body)
        log_outcome(self.name, device.id, message.prompt_id, result, reason=reason)
        return result

    def close(self) -> None:
        self._client.close()

    def _deliver(self, body: dict[str, Any]) -> tuple[SendResult, str]:
        try:
            access_token = self._access_token.get()
            response = self._post(body, access_token)
            error = FcmError.of(response)
            if response.status_code in (401, 403) and error.code not in _NOT_CURED_BY_REFRESH:
                # Revoked or expired early: one fresh token, once.
                self._access_token.invalidate(access_token)
                response = self._post(body, self._access_token.get())
                error = FcmError.of(response)
        except _AccessTokenError as token_error:
            return token_error.result, token_error.reason
        except httpx.TransportError as transport_error:
            return SendResult(Outcome.TRANSIENT), transport_error.__class__.__name__
        except httpx.HTTPError as http_error:
            return SendResult(Outcome.FAILED), http_error.__class__.__name__
        return _result(response, error), error.reason

    def _post(self, body: dict[str, Any], access_token: str) -> httpx.Response:
        return self._client.get().post(
            self._send_url, json=body, headers={"authorization": f"Bearer {access_token}"}
        )

    def _fetch_access_token(self) -> tuple[str, float]:
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
        response = self._client.get().post(
            account.token_uri, data={"grant_type": JWT_BEARER_GRANT, "assertion": assertion}
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


def _result(response: httpx.Response, error: FcmError) -> SendResult:
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
