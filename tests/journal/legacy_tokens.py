"""Format-1 tokens, as the journal sealed them before the row's version was bound.

Written here independently of `journal.crypto` (which no longer seals this format), so
tests can put such tokens in rows and check that they open, are re-sealed, or are refused.
"""

from __future__ import annotations

import base64
import os
import struct

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from journal.crypto import SealContext


def _length_prefixed(*parts: str) -> bytes:
    return b"".join(len(p.encode()).to_bytes(4, "big") + p.encode() for p in parts)


def legacy_seal_aad(context: SealContext, key_version: int) -> bytes:
    """Format, algorithm, DEK version, table, field, row id, owner id: no row version."""
    return _length_prefixed(
        "afterglow.journal.seal",
        "1",
        "A256GCM",
        str(key_version),
        context.table,
        context.field,
        context.row_id,
        context.owner_id,
    )


def legacy_seal(data_key: bytes, plaintext: str, *, context: SealContext, key_version: int) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(data_key).encrypt(
        nonce, plaintext.encode(), legacy_seal_aad(context, key_version)
    )
    raw = struct.pack(">BI", 1, key_version) + nonce + sealed
    return "ag1." + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
