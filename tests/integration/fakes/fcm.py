"""Google's OAuth 2.0 token endpoint and the FCM HTTP v1 send endpoint.

The token endpoint accepts only a JWT bearer assertion (RFC 7523) signed by the test
service account's key, with Google's claims; the send endpoint accepts only access tokens
it issued. Error bodies are FCM's documented ones.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs

import jwt

from tests.integration.fakes.answers import ScriptedAnswers
from tests.integration.fakes.server import Request, Response

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"


def write_service_account(
    path: Path,
    *,
    project_id: str,
    client_email: str,
    private_pem: str,
    token_uri: str,
    key_id: str = "test-key-1",
) -> str:
    """A service account key file as Google issues it (the fields the FCM provider reads),
    written to `path`; its path as a str, for FCM_CREDENTIALS_FILE."""
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": project_id,
                "private_key_id": key_id,
                "private_key": private_pem,
                "client_email": client_email,
                "token_uri": token_uri,
            }
        )
    )
    return str(path)


def fcm_error(status_code: int, status: str, message: str, error_code: str) -> dict[str, object]:
    return {
        "error": {
            "code": status_code,
            "message": message,
            "status": status,
            "details": [{"@type": FCM_ERROR, "errorCode": error_code}],
        }
    }


UNREGISTERED_BODY = fcm_error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")
INVALID_TOKEN_BODY = {
    "error": {
        "code": 400,
        "message": "The registration token is not a valid FCM registration token",
        "status": "INVALID_ARGUMENT",
        "details": [
            {"@type": FCM_ERROR, "errorCode": "INVALID_ARGUMENT"},
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [
                    {
                        "field": "message.token",
                        "description": "The registration token is not a valid FCM "
                        "registration token",
                    }
                ],
            },
        ],
    }
}
INVALID_PAYLOAD_BODY = fcm_error(
    400, "INVALID_ARGUMENT", "Invalid value at 'message.data'", "INVALID_ARGUMENT"
)
UNAUTHENTICATED_BODY = {
    "error": {
        "code": 401,
        "message": "Request had invalid authentication credentials. Expected OAuth 2 access "
        "token, login cookie or other valid authentication credential.",
        "status": "UNAUTHENTICATED",
    }
}


def unavailable(*, retry_after: str) -> Response:
    """FCM overloaded: come back after `retry_after` seconds."""
    return Response.json(
        503,
        fcm_error(503, "UNAVAILABLE", "The service is currently unavailable.", "UNAVAILABLE"),
        {"retry-after": retry_after},
    )


def quota_exceeded(*, retry_after: str) -> Response:
    """The project's sending quota used up: come back after `retry_after` seconds."""
    return Response.json(
        429,
        fcm_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded.", "QUOTA_EXCEEDED"),
        {"retry-after": retry_after},
    )


# How the send endpoint answers for a device token (anything unlisted: "ok").
ANSWERS: dict[str, Response] = {
    "unavailable": unavailable(retry_after="7"),
    "quota": quota_exceeded(retry_after="30"),
    # The same, asking for a short wait (fault tests with a real worker).
    "unavailable_briefly": unavailable(retry_after="1"),
    "quota_briefly": quota_exceeded(retry_after="1"),
    "unregistered": Response.json(404, UNREGISTERED_BODY),
    "invalid_token": Response.json(400, INVALID_TOKEN_BODY),
    "invalid_payload": Response.json(400, INVALID_PAYLOAD_BODY),
}


@dataclass
class FakeFcm(ScriptedAnswers):
    base_url: str
    project_id: str
    client_email: str
    public_pem: str
    expires_in: int = 3599
    # False: every access token is refused, as if the service account lost its role.
    accepts_access_tokens: bool = True
    # The claims of every accepted assertion, and every send's bearer token and JSON body.
    assertions: list[dict[str, object]] = field(default_factory=list)
    sends: list[tuple[str, dict[str, object]]] = field(default_factory=list)
    rejected_assertions: int = 0
    _issued: set[str] = field(default_factory=set)
    _numbers: itertools.count[int] = field(default_factory=itertools.count)

    @property
    def token_uri(self) -> str:
        return f"{self.base_url}/token"

    def revoke_access_tokens(self) -> None:
        """Forget every access token issued so far (they answer 401 from now on)."""
        self._issued.clear()

    def handle(self, request: Request) -> Response:
        if request.method == "POST" and request.path == "/token":
            return self._token(request)
        if request.method == "POST" and request.path == (
            f"/v1/projects/{self.project_id}/messages:send"
        ):
            return self._send(request)
        return Response.json(404, {"error": {"code": 404, "status": "NOT_FOUND"}})

    def _token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        invalid_grant = Response.json(
            400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        )
        if form.get("grant_type") != JWT_BEARER_GRANT or "assertion" not in form:
            return Response.json(400, {"error": "unsupported_grant_type"})
        try:
            claims = jwt.decode(
                form["assertion"],
                self.public_pem,
                algorithms=["RS256"],
                audience=self.token_uri,
                issuer=self.client_email,
                options={"require": ["iss", "aud", "iat", "exp"]},
            )
        except jwt.PyJWTError:
            self.rejected_assertions += 1
            return invalid_grant
        # Google: the assertion lives at most an hour and asks for a scope.
        if claims["exp"] - claims["iat"] > 3600 or SCOPE not in str(claims.get("scope")).split():
            self.rejected_assertions += 1
            return invalid_grant
        self.assertions.append(claims)
        access_token = f"ya29.fake-{next(self._numbers)}-{int(time.time())}"
        self._issued.add(access_token)
        return Response.json(
            200,
            {"access_token": access_token, "expires_in": self.expires_in, "token_type": "Bearer"},
        )

    def _send(self, request: Request) -> Response:
        scheme, _, access_token = request.headers.get("authorization", "").partition(" ")
        if scheme != "Bearer" or access_token not in self._issued or not self.accepts_access_tokens:
            return Response.json(401, UNAUTHENTICATED_BODY)
        body = request.json()
        self.sends.append((access_token, body))
        device_token = body.get("message", {}).get("token")
        if not device_token:
            return Response.json(400, INVALID_PAYLOAD_BODY)
        prompt_id = body["message"].get("data", {}).get("prompt_id", "")
        answer = self.answer_for(device_token, prompt_id)
        if answer == "ok":
            return Response.json(
                200, {"name": f"projects/{self.project_id}/messages/{next(self._numbers)}"}
            )
        return ANSWERS[answer]
