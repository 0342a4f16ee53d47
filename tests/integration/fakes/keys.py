"""Test keys, made fresh for each test session.

The one place in the tests that uses `cryptography` directly: neither PyJWT nor py_vapid
generates RSA keys, and a Web Push subscriber's raw P-256 point has no helper elsewhere.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class KeyPair:
    private_pem: str
    public_pem: str
    # The uncompressed public point, base64url (EC keys only): VAPID's `k`, a p256dh.
    public_raw: str = ""
    private_key: Any = None


def _pems(private_key: Any) -> tuple[str, str]:
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_pem = (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private_pem, public_pem


def rsa_key() -> KeyPair:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return KeyPair(*_pems(private_key), private_key=private_key)


def p256_key() -> KeyPair:
    """An EC P-256 key: an APNs .p8 key, a VAPID key or a browser's subscription key."""
    private_key = ec.generate_private_key(ec.SECP256R1())
    raw = private_key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return KeyPair(*_pems(private_key), public_raw=b64url(raw), private_key=private_key)


def p256_private_raw(key: KeyPair) -> str:
    """The private scalar as base64url of 32 bytes: the VAPID key form most tools print."""
    number = key.private_key.private_numbers().private_value
    return b64url(number.to_bytes(32, "big"))


def auth_secret() -> str:
    return b64url(secrets.token_bytes(16))
