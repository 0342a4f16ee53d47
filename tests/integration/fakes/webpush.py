"""A Web Push service (RFC 8030) that checks VAPID (RFC 8292) and decrypts what it receives
(RFC 8291 aes128gcm) with the subscriber's private key, as the browser would."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field

import http_ece
from py_vapid import Vapid
from py_vapid.jwt import decode as vapid_claims
from py_vapid.utils import b64urldecode

from tests.integration.fakes.keys import KeyPair, auth_secret, p256_key
from tests.integration.fakes.server import Request, Response

# How the push service answers for a subscription (anything unlisted: "ok").
ANSWERS = {
    "gone": Response(410),
    "not_found": Response(404),
    "throttled": Response(429, headers={"retry-after": "12"}),
    "error": Response(500),
    "too_large": Response(413),
}


@dataclass
class Subscriber:
    key: KeyPair
    auth: str
    answer: str


@dataclass
class Delivery:
    """What one accepted request carried: headers, the encrypted body and its plaintext."""

    subscription_id: str
    headers: dict[str, str]
    encrypted: bytes
    payload: dict[str, object]
    claims: dict[str, object]


@dataclass
class FakePushService:
    base_url: str
    vapid_public_key: str  # base64url uncompressed point: what the browser subscribed with
    deliveries: list[Delivery] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    _subscribers: dict[str, Subscriber] = field(default_factory=dict)

    def subscribe(self, answer: str = "ok") -> str:
        """A browser's PushSubscription.toJSON(), as the app registers it as a device token."""
        subscription_id = uuid.uuid4().hex
        subscriber = Subscriber(key=p256_key(), auth=auth_secret(), answer=answer)
        self._subscribers[subscription_id] = subscriber
        return json.dumps(
            {
                "endpoint": f"{self.base_url}/push/{subscription_id}",
                "expirationTime": None,
                "keys": {"p256dh": subscriber.key.public_raw, "auth": subscriber.auth},
            }
        )

    def handle(self, request: Request) -> Response:
        subscription_id = request.path.removeprefix("/push/")
        subscriber = self._subscribers.get(subscription_id)
        if request.method != "POST" or subscriber is None:
            return Response(404)
        try:
            claims = self._check_vapid(request.headers.get("authorization", ""))
        except (ValueError, KeyError, AssertionError) as error:
            self.rejected.append(f"vapid: {error}")
            return Response(401)
        if "ttl" not in request.headers or not request.headers["ttl"].isdigit():
            self.rejected.append("ttl")
            return Response(400)
        if request.headers.get("content-encoding") != "aes128gcm":
            self.rejected.append("content-encoding")
            return Response(415)
        try:
            plaintext = http_ece.decrypt(
                request.body,
                private_key=subscriber.key.private_key,
                auth_secret=b64urldecode(subscriber.auth.encode()),
                version="aes128gcm",
            )
        except Exception as error:
            self.rejected.append(f"decrypt: {error.__class__.__name__}")
            return Response(400)
        self.deliveries.append(
            Delivery(
                subscription_id=subscription_id,
                headers=request.headers,
                encrypted=request.body,
                payload=json.loads(plaintext),
                claims=claims,
            )
        )
        if subscriber.answer == "ok":
            return Response(201, headers={"location": f"{self.base_url}/message/{uuid.uuid4()}"})
        return ANSWERS[subscriber.answer]

    def _check_vapid(self, authorization: str) -> dict[str, object]:
        """RFC 8292: `vapid t=<JWT>, k=<public key>`, signed by that key, for this origin."""
        scheme, _, parameters = authorization.partition(" ")
        if scheme.lower() != "vapid":
            raise ValueError("not the vapid scheme")
        values = dict(part.strip().split("=", 1) for part in parameters.split(","))
        if values["k"] != self.vapid_public_key:
            raise ValueError("not the subscribed application server key")
        if not Vapid.verify(authorization):
            raise ValueError("bad signature")
        claims: dict[str, object] = vapid_claims(values["t"], values["k"])
        if claims["aud"] != self.base_url:
            raise ValueError("wrong audience")
        expires = claims["exp"]
        if not isinstance(expires, int) or not time.time() < expires <= time.time() + 86400:
            raise ValueError("exp outside the next 24 hours")
        if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
            raise ValueError("no contact subject")
        return claims
