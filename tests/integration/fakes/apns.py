"""APNs (api.push.apple.com) as Apple documents it, over HTTP/2.

It checks the provider token (ES256, `kid` = key id, `iss` = team id, `iat` within the hour)
against the key's public half, the topic and the push type, then answers as told for the
device token, with Apple's reasons.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field

import jwt

from tests.integration.fakes.answers import ScriptedAnswers
from tests.integration.fakes.server import Request, Response


def _reason(status: int, reason: str, **extra: object) -> Response:
    return Response.json(status, {"reason": reason, **extra}, {"apns-id": str(uuid.uuid4())})


# How APNs answers for a device token (anything unlisted: "ok").
ANSWERS = {
    "unregistered": lambda: _reason(410, "Unregistered", timestamp=int(time.time() * 1000)),
    "bad_token": lambda: _reason(400, "BadDeviceToken"),
    "not_for_topic": lambda: _reason(400, "DeviceTokenNotForTopic"),
    "throttled": lambda: _reason(429, "TooManyRequests"),
    "unavailable": lambda: _reason(503, "ServiceUnavailable"),
    "internal": lambda: _reason(500, "InternalServerError"),
    "payload_too_large": lambda: _reason(413, "PayloadTooLarge"),
}


@dataclass
class FakeApns(ScriptedAnswers):
    key_id: str
    team_id: str
    topic: str
    public_pem: str
    # Every accepted request: device token, headers, JSON body, HTTP version.
    requests: list[Request] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)  # the reasons of refused requests
    _expired: set[str] = field(default_factory=set)

    def expire_provider_tokens(self) -> None:
        """Treat every provider token seen so far as expired (ExpiredProviderToken)."""
        self._expired.update(
            r.headers["authorization"].removeprefix("bearer ") for r in self.requests
        )

    def device_tokens(self) -> list[str]:
        return [r.path.removeprefix("/3/device/") for r in self.requests]

    def handle(self, request: Request) -> Response:
        refusal = self._refusal(request)
        if refusal is not None:
            self.rejected.append(json.loads(refusal.body)["reason"])
            return refusal
        self.requests.append(request)
        device_token = request.path.removeprefix("/3/device/")
        answer = self.answer_for(device_token, request.json().get("prompt_id", ""))
        if answer == "ok":
            return Response(200, headers={"apns-id": str(uuid.uuid4())})
        return ANSWERS[answer]()

    def _refusal(self, request: Request) -> Response | None:
        if request.http_version != "2":
            return _reason(400, "BadRequest")  # APNs speaks HTTP/2 only
        if request.method != "POST":
            return _reason(405, "MethodNotAllowed")
        if not request.path.startswith("/3/device/"):
            return _reason(404, "BadPath")
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme != "bearer" or not token:
            return _reason(403, "MissingProviderToken")
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(
                token, self.public_pem, algorithms=["ES256"], options={"require": ["iat"]}
            )
        except jwt.PyJWTError:
            return _reason(403, "InvalidProviderToken")
        if header.get("kid") != self.key_id or claims.get("iss") != self.team_id:
            return _reason(403, "InvalidProviderToken")
        if token in self._expired or time.time() - claims["iat"] > 3600:
            return _reason(403, "ExpiredProviderToken")
        if "apns-topic" not in request.headers:
            return _reason(400, "MissingTopic")
        if request.headers["apns-topic"] != self.topic:
            return _reason(400, "TopicDisallowed")
        push_type = request.headers.get("apns-push-type")
        if push_type not in ("alert", "background"):
            return _reason(400, "InvalidPushType")
        if push_type == "background" and request.headers.get("apns-priority") != "5":
            return _reason(400, "BadPriority")  # Apple: a background push has priority 5
        if request.headers.get("apns-priority", "10") not in ("5", "10"):
            return _reason(400, "BadPriority")
        if not request.headers.get("apns-expiration", "0").isdigit():
            return _reason(400, "BadExpirationDate")
        try:
            body = request.json()
        except ValueError:
            return _reason(400, "PayloadEmpty")
        if not isinstance(body, dict) or "aps" not in body:
            return _reason(400, "PayloadEmpty")
        return None
