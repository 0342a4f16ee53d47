"""The feed URL's secret: 32 random bytes, and the digest stored in its place."""

from __future__ import annotations

import hashlib
import secrets

# 32 bytes from the operating system's CSPRNG: 256 bits, unguessable by any number of
# tries; base64url without padding, 43 characters, safe in a path.
TOKEN_BYTES = 32


def token_new() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> str:
    """The hex SHA-256 stored for a token. A plain hash is enough (no key, no slow hash):
    the token is 256 random bits, so no guess list or brute force reaches it from the
    digest. Any string hashes (one the client made up included), so every lookup does the
    same work."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()
