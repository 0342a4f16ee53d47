"""Envelope encryption for journal text: the only module that imports `cryptography`.

Each patient has a random 256-bit data key (DEK). DEKs are stored only wrapped by a
key-encryption key (KEK) from settings.JOURNAL_KEKS; free text is sealed under the DEK with
AES-256-GCM and associated data that binds it to its table, field, row, owner and the
row's version.

Sealed token (a str, stored in a text column)::

    "ag2." + base64url_unpadded(alg_id:1 | dek_version:4 | nonce:12 | ciphertext+tag)

The prefix names the token format, and with it the associated data it was sealed with:

- format 2 (every seal): format, algorithm, DEK version, table, field, row id, owner id
  and the row's version. A row's text from an earlier version, written back over a later
  one (a rollback through the database or a restored backup), fails to open.
- format 1 (legacy, opened only with `accept_legacy=True`): the same without the row's
  version. Rows still holding one are re-sealed as format 2 by `journal.keys`; see
  docs/architecture.md, "Binding to the row's version".

Wrapped data key (bytes)::

    format:1 | kek_version:4 | nonce:12 | ciphertext+tag:48

Integers are big-endian. Every header field is also part of the associated data, so editing
one makes opening fail. Nothing here logs: callers log the security event with ids only.
"""

from __future__ import annotations

import base64
import binascii
import functools
import os
import re
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pybase64
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

__all__ = [
    "LEGACY_TOKEN_PREFIX",
    "TOKEN_PREFIX",
    "JournalCryptoError",
    "KeyConfigError",
    "KeyRing",
    "SealContext",
    "SealedRow",
    "SealedValueError",
    "SealingKey",
    "is_legacy_token",
    "new_data_key",
    "open_in_row",
    "open_sealed",
    "seal",
    "seal_in_row",
    "wrapped_key_version",
]

KEY_BYTES = 32
# A random 96-bit nonce per encryption. NIST SP 800-38D, section 8.3, caps random-nonce use
# at 2^32 encryptions per key, where the chance of any nonce repeating is about 2^-33.
# Per-patient DEKs and per-deployment KEKs (one wrap per patient per rotation) stay many
# orders of magnitude below that.
NONCE_BYTES = 12
TAG_BYTES = 16
MAX_KEY_VERSION = 2**32 - 1

TOKEN_FORMAT = 2
TOKEN_PREFIX = f"ag{TOKEN_FORMAT}."
# The format sealed before the row's version was bound: opened on request, never written.
LEGACY_TOKEN_FORMAT = 1
LEGACY_TOKEN_PREFIX = f"ag{LEGACY_TOKEN_FORMAT}."
ALGORITHM_NAMES = {1: "A256GCM"}
ALGORITHM_ID = 1
_TOKEN_HEADER = struct.Struct(">BI")  # algorithm id, DEK version

WRAP_FORMAT = 1
_WRAP_HEADER = struct.Struct(">BI")  # format, KEK version
_WRAPPED_BYTES = _WRAP_HEADER.size + NONCE_BYTES + KEY_BYTES + TAG_BYTES

_KEK_ITEM = re.compile(r"([0-9]{1,10}):([A-Za-z0-9+/]+={0,2})")


class JournalCryptoError(Exception):
    """Base class of this module's errors."""


class SealedValueError(JournalCryptoError):
    """A sealed token or wrapped key cannot be opened. The message never holds its content."""


class KeyConfigError(JournalCryptoError):
    """The key-encryption keys are misconfigured. The message never holds key material."""


def _length_prefixed(*parts: str) -> bytes:
    """Encode parts so that no two different lists encode alike (4-byte length, then UTF-8)."""
    out: list[bytes] = []
    for part in parts:
        encoded = part.encode("utf-8")
        out.append(len(encoded).to_bytes(4, "big"))
        out.append(encoded)
    return b"".join(out)


def _check_version(version: object, *, what: str) -> int:
    if isinstance(version, bool) or not isinstance(version, int):
        raise TypeError(f"{what} must be an int")
    if not 1 <= version <= MAX_KEY_VERSION:
        raise ValueError(f"{what} must be between 1 and {MAX_KEY_VERSION}")
    return version


def _check_data_key(data_key: object) -> bytes:
    if not isinstance(data_key, bytes) or len(data_key) != KEY_BYTES:
        raise ValueError(f"a data key is {KEY_BYTES} bytes")
    return data_key


class SealingKey:
    """A data key with its AES-GCM instance made once: what opens a page of rows (40
    fields for a list of 20 entries) would otherwise build for every field."""

    __slots__ = ("_aead",)

    def __init__(self, data_key: bytes) -> None:
        self._aead = AESGCM(_check_data_key(data_key))

    def __repr__(self) -> str:
        return "SealingKey(...)"


def _aead(data_key: bytes | SealingKey) -> AESGCM:
    if isinstance(data_key, SealingKey):
        return data_key._aead
    return AESGCM(_check_data_key(data_key))


def _check_place(table: str, field: str, row_id: str, owner_id: str, row_version: int) -> None:
    """The checks of a `SealContext`'s parts (and of a `SealedRow`'s, with its fields')."""
    # The common case checked inline (a context is made for every seal).
    if type(row_version) is not int or not 1 <= row_version <= MAX_KEY_VERSION:
        _check_version(row_version, what="SealContext.row_version")
    # An empty or non-str part would silently bind tokens to less than the caller meant
    # (a UUID object, or a row id not yet assigned).
    for name, value in (
        ("table", table),
        ("field", field),
        ("row_id", row_id),
        ("owner_id", owner_id),
    ):
        if not isinstance(value, str):
            raise TypeError(f"SealContext.{name} must be a str")
        if not value:
            raise ValueError(f"SealContext.{name} must not be empty")
        if value.isascii():
            continue  # ids and names: nothing to encode
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"SealContext.{name} is not valid Unicode") from None


@dataclass(frozen=True)
class SealContext:
    """Where a sealed value lives, and which version of its row it belongs to; a token
    opens only with the context it was sealed for."""

    table: str
    field: str
    row_id: str
    owner_id: str
    # The version the row has once the sealed value is stored; every write that changes
    # the row's text raises it, so an older text put back no longer matches.
    row_version: int

    def __post_init__(self) -> None:
        _check_place(self.table, self.field, self.row_id, self.owner_id, self.row_version)

    def aad(self, key_version: int) -> bytes:
        """Associated data of a format-2 token: format, algorithm, DEK version, the place
        and the row's version, length-prefixed."""
        _check_version(key_version, what="key_version")
        # The parts shared by every row of a column are encoded once per process
        # (_aad_head); the bytes are those of all nine parts length-prefixed in a row.
        return _aad_head(key_version, self.table, self.field) + _length_prefixed(
            self.row_id, self.owner_id, str(self.row_version)
        )

    def legacy_aad(self, key_version: int) -> bytes:
        """Associated data of a format-1 token: the same without the row's version. These
        bytes are those every format-1 token was sealed with; they never change."""
        _check_version(key_version, what="key_version")
        return _LEGACY_SEAL_AAD_HEAD + _length_prefixed(
            str(key_version), self.table, self.field, self.row_id, self.owner_id
        )


_SEAL_AAD_HEAD = _length_prefixed(
    "afterglow.journal.seal", str(TOKEN_FORMAT), ALGORITHM_NAMES[ALGORITHM_ID]
)
_LEGACY_SEAL_AAD_HEAD = _length_prefixed(
    "afterglow.journal.seal", str(LEGACY_TOKEN_FORMAT), ALGORITHM_NAMES[ALGORITHM_ID]
)


@functools.lru_cache(maxsize=256)
def _aad_head(key_version: int, table: str, field: str) -> bytes:
    """Names and a version, never secret: a few columns times a few key versions."""
    return _SEAL_AAD_HEAD + _length_prefixed(str(key_version), table, field)


class SealedRow:
    """One row's part of its sealed fields' contexts: table, row id, owner id and the row's
    version, checked and encoded once for all of the row's fields (`open_in_row`).

    Opening a page of rows otherwise makes a `SealContext` for every field, checks its
    parts and encodes the ids again for each; the associated data is the very same bytes
    (`SealContext.aad`).
    """

    __slots__ = ("_tail", "owner_id", "row_id", "row_version", "table")

    def __init__(self, table: str, row_id: str, owner_id: str, row_version: int) -> None:
        # Each field's name is checked with its associated data (`_checked_aad_head`).
        _check_place(table, "-", row_id, owner_id, row_version)
        self.table = table
        self.row_id = row_id
        self.owner_id = owner_id
        self.row_version = row_version
        self._tail = _length_prefixed(row_id, owner_id, str(row_version))

    def __repr__(self) -> str:
        return f"SealedRow({self.table!r}, {self.row_id!r}, row_version={self.row_version})"

    def context(self, field: str) -> SealContext:
        """The context of one of the row's fields."""
        return SealContext(self.table, field, self.row_id, self.owner_id, self.row_version)

    def aad(self, key_version: int, field: str) -> bytes:
        """The same bytes as `self.context(field).aad(key_version)`."""
        return _checked_aad_head(key_version, self.table, field) + self._tail


@functools.lru_cache(maxsize=256, typed=True)  # typed: True is no key version, 1 is
def _checked_aad_head(key_version: int, table: str, field: str) -> bytes:
    """`_aad_head`, its parts checked as a `SealContext` checks them (once a process)."""
    _check_version(key_version, what="key_version")
    _check_place(table, field, "-", "-", 1)
    return _aad_head(key_version, table, field)


def _wrap_aad(*, kek_version: int, owner_id: str, dek_version: int) -> bytes:
    return _length_prefixed(
        "afterglow.journal.wrap",
        str(WRAP_FORMAT),
        ALGORITHM_NAMES[ALGORITHM_ID],
        str(kek_version),
        owner_id,
        str(dek_version),
    )


def _check_owner_id(owner_id: object) -> str:
    if not isinstance(owner_id, str) or not owner_id:
        raise ValueError("owner_id must be a non-empty str")
    try:
        owner_id.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("owner_id is not valid Unicode") from None
    return owner_id


class KeyRing:
    """The configured KEKs: the active one wraps, every one unwraps."""

    def __init__(self, keks: Mapping[int, bytes], active_version: int) -> None:
        if not keks:
            raise KeyConfigError("no key-encryption key is configured")
        checked: dict[int, bytes] = {}
        for version, key in keks.items():
            try:
                _check_version(version, what="KEK version")
            except (TypeError, ValueError) as error:
                raise KeyConfigError(str(error)) from None
            if not isinstance(key, bytes) or len(key) != KEY_BYTES:
                raise KeyConfigError(f"key version {version} is not {KEY_BYTES} bytes")
            checked[version] = key
        if active_version not in checked:
            raise KeyConfigError(f"active key version {active_version} not configured")
        self._keks = checked
        self.active_version: int = active_version
        self.versions: tuple[int, ...] = tuple(sorted(checked, reverse=True))

    def __repr__(self) -> str:
        return f"KeyRing(active_version={self.active_version}, versions={self.versions})"

    @classmethod
    def parse(cls, items: Sequence[str]) -> KeyRing:
        """Parse "version:base64key" items, newest first; the first one is active."""
        if isinstance(items, str | bytes):
            raise KeyConfigError("key-encryption keys must be a list of 'version:key' items")
        keks: dict[int, bytes] = {}
        for position, item in enumerate(items, start=1):
            # Messages name the item's position, never its text: the text is a secret.
            match = _KEK_ITEM.fullmatch(item.strip()) if isinstance(item, str) else None
            if match is None:
                raise KeyConfigError(f"key item {position} is not 'version:base64key'")
            version = int(match.group(1))
            try:
                key = base64.b64decode(match.group(2), validate=True)
            except binascii.Error:
                raise KeyConfigError(f"key version {version} is not valid base64") from None
            if version in keks:
                raise KeyConfigError(f"key version {version} is listed twice")
            if len(key) != KEY_BYTES:
                raise KeyConfigError(f"key version {version} is not {KEY_BYTES} bytes")
            keks[version] = key
        if not keks:
            raise KeyConfigError("no key-encryption key is configured")
        return cls(keks, active_version=next(iter(keks)))

    @classmethod
    def from_settings(cls) -> KeyRing:
        items = getattr(settings, "JOURNAL_KEKS", None)
        if items is None:
            raise KeyConfigError("settings.JOURNAL_KEKS is not set")
        return cls.parse(items)

    def wrap_data_key(
        self, data_key: bytes, *, owner_id: str, dek_version: int
    ) -> tuple[int, bytes]:
        """Wrap a DEK under the active KEK; returns (kek_version, wrapped)."""
        _check_data_key(data_key)
        _check_owner_id(owner_id)
        _check_version(dek_version, what="dek_version")
        version = self.active_version
        nonce = os.urandom(NONCE_BYTES)
        aad = _wrap_aad(kek_version=version, owner_id=owner_id, dek_version=dek_version)
        sealed = AESGCM(self._keks[version]).encrypt(nonce, data_key, aad)
        return version, _WRAP_HEADER.pack(WRAP_FORMAT, version) + nonce + sealed

    def unwrap_data_key(
        self, wrapped: bytes | memoryview, *, owner_id: str, dek_version: int
    ) -> bytes:
        """Unwrap a DEK with whichever configured KEK wrapped it; SealedValueError otherwise.

        Accepts the memoryview that a PostgreSQL BinaryField returns.
        """
        _check_owner_id(owner_id)
        _check_version(dek_version, what="dek_version")
        version = wrapped_key_version(wrapped)
        kek = self._keks.get(version)
        if kek is None:
            raise SealedValueError(f"key version {version} not configured")
        wrapped = bytes(wrapped)
        nonce = wrapped[_WRAP_HEADER.size : _WRAP_HEADER.size + NONCE_BYTES]
        sealed = wrapped[_WRAP_HEADER.size + NONCE_BYTES :]
        aad = _wrap_aad(kek_version=version, owner_id=owner_id, dek_version=dek_version)
        try:
            return AESGCM(kek).decrypt(nonce, sealed, aad)
        except InvalidTag:
            raise SealedValueError("wrapped data key failed authentication") from None

    def rewrap(
        self, wrapped: bytes | memoryview, *, owner_id: str, dek_version: int
    ) -> tuple[int, bytes]:
        """Unwrap with any configured KEK and wrap again under the active one."""
        data_key = self.unwrap_data_key(wrapped, owner_id=owner_id, dek_version=dek_version)
        return self.wrap_data_key(data_key, owner_id=owner_id, dek_version=dek_version)


def wrapped_key_version(wrapped: bytes | memoryview) -> int:
    """The KEK version of a wrapped key, read from its header without unwrapping."""
    if not isinstance(wrapped, bytes | memoryview):
        raise SealedValueError("wrapped data key is not bytes")
    wrapped = bytes(wrapped)
    if len(wrapped) != _WRAPPED_BYTES:
        raise SealedValueError("wrapped data key has the wrong length")
    wrap_format, version = _WRAP_HEADER.unpack_from(wrapped)
    if wrap_format != WRAP_FORMAT:
        raise SealedValueError("wrapped data key has an unknown format")
    return int(version)


def new_data_key() -> bytes:
    """A fresh random 256-bit data key."""
    return AESGCM.generate_key(bit_length=256)


def _encode_token(raw: bytes) -> str:
    return TOKEN_PREFIX + pybase64.b64encode(raw, altchars=b"-_").rstrip(b"=").decode("ascii")


_URLSAFE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_ALPHABET_INDEX = {char: index for index, char in enumerate(_URLSAFE_ALPHABET)}
# Bits of the last character that carry no data, by the length of the final group.
_UNUSED_BITS = {2: 0b1111, 3: 0b11}
_PADDING = {0: "", 2: "==", 3: "="}


def is_legacy_token(token: object) -> bool:
    """Whether a stored value is a format-1 token (sealed before the row's version was
    bound), read from its prefix alone."""
    return isinstance(token, str) and token.startswith(LEGACY_TOKEN_PREFIX)


def _decode_token(token: str) -> tuple[int, int, bytes, bytes]:
    """Split a token into (format, key_version, nonce, ciphertext+tag), failing closed.

    The body is strict unpadded base64url: the alphabet only, and canonical (one text per
    bytes). Checked and decoded by pybase64 (SIMD, several times faster than binascii's
    byte-at-a-time loop, which was a third of opening a field) plus a look at the last
    character: a page of 20 entries decodes 40 tokens, one of about 1.4 KB a row.
    """
    if not isinstance(token, str):
        raise SealedValueError("sealed value is not a str")
    if token.startswith(TOKEN_PREFIX):
        token_format = TOKEN_FORMAT
    elif token.startswith(LEGACY_TOKEN_PREFIX):
        token_format = LEGACY_TOKEN_FORMAT
    else:
        raise SealedValueError("sealed value has an unknown format")
    body = token[_PREFIX_CHARS:]  # both prefixes are four characters
    remainder = len(body) % 4
    # pybase64 takes the standard alphabet's two letters beside the URL-safe ones.
    if remainder == 1 or "+" in body or "/" in body:
        raise SealedValueError("sealed value is not valid base64url")
    try:
        raw = pybase64.b64decode(body + _PADDING[remainder], altchars=b"-_", validate=True)
    except ValueError:  # binascii.Error, and a str that is not ASCII
        raise SealedValueError("sealed value is not valid base64url") from None
    if remainder and _ALPHABET_INDEX[token[-1]] & _UNUSED_BITS[remainder]:
        raise SealedValueError("sealed value is not canonical base64url")
    if len(raw) < _MIN_RAW_BYTES:
        raise SealedValueError("sealed value is too short")
    algorithm, key_version = _TOKEN_HEADER.unpack_from(raw)
    if algorithm not in ALGORITHM_NAMES:
        raise SealedValueError("sealed value has an unknown algorithm")
    if key_version < 1:
        raise SealedValueError("sealed value has an invalid key version")
    return token_format, key_version, raw[_HEADER_BYTES:_CIPHERTEXT_AT], raw[_CIPHERTEXT_AT:]


_PREFIX_CHARS = len(TOKEN_PREFIX)
_HEADER_BYTES = _TOKEN_HEADER.size
_CIPHERTEXT_AT = _HEADER_BYTES + NONCE_BYTES
_MIN_RAW_BYTES = _CIPHERTEXT_AT + TAG_BYTES


def seal(
    data_key: bytes | SealingKey, plaintext: str, *, context: SealContext, key_version: int
) -> str:
    """Encrypt text under a data key, bound to its context; every call uses a fresh nonce."""
    row = SealedRow(context.table, context.row_id, context.owner_id, context.row_version)
    return seal_in_row(data_key, plaintext, row=row, field=context.field, key_version=key_version)


def seal_in_row(
    data_key: bytes | SealingKey, plaintext: str, *, row: SealedRow, field: str, key_version: int
) -> str:
    """`seal` for one field of a row, with the row's part of the associated data encoded
    once (`SealedRow`): the same token as `seal(..., context=row.context(field))` makes."""
    aead = _aead(data_key)
    aad = row.aad(key_version, field)  # checks the key version and field as a context does
    if not isinstance(plaintext, str):
        raise TypeError("plaintext must be a str")
    try:
        encoded = plaintext.encode("utf-8")
    except UnicodeEncodeError:
        # `from None`: the UnicodeEncodeError carries the whole plaintext in `.object`.
        raise ValueError("plaintext is not valid Unicode (lone surrogate)") from None
    nonce = os.urandom(NONCE_BYTES)
    sealed = aead.encrypt(nonce, encoded, aad)
    return _encode_token(_TOKEN_HEADER.pack(ALGORITHM_ID, key_version) + nonce + sealed)


def open_sealed(
    data_key: bytes | SealingKey | Callable[[int], bytes | SealingKey],
    token: str,
    *,
    context: SealContext,
    accept_legacy: bool = False,
) -> str:
    """Decrypt a token sealed for this context; SealedValueError on any failure.

    `data_key` is the key, or a function from the key version in the token's header to
    the key (the header is then decoded once, not once for the version and once to open).
    A format-1 token, which is not bound to the row's version, opens only with
    `accept_legacy` (and then opens whatever the row's version is).
    """
    row = SealedRow(context.table, context.row_id, context.owner_id, context.row_version)
    key_for = data_key if callable(data_key) else lambda _version: data_key
    return open_in_row(key_for, token, row=row, field=context.field, accept_legacy=accept_legacy)


def open_in_row(
    key_for: Callable[[int], bytes | SealingKey],
    token: str,
    *,
    row: SealedRow,
    field: str,
    accept_legacy: bool = False,
) -> str:
    """`open_sealed` for one field of a row, with the row's part of the associated data
    encoded once (`SealedRow`): the same checks, the same bytes, the same failures."""
    token_format, key_version, nonce, sealed = _decode_token(token)
    if token_format == LEGACY_TOKEN_FORMAT:
        if not accept_legacy:
            raise SealedValueError("sealed value has a format no longer accepted")
        aad = row.context(field).legacy_aad(key_version)
    else:
        aad = row.aad(key_version, field)
    aead = _aead(key_for(key_version))
    try:
        return aead.decrypt(nonce, sealed, aad).decode("utf-8")
    except (InvalidTag, UnicodeDecodeError):
        raise SealedValueError("sealed value failed authentication") from None
