"""Canaries and the search for them.

Every text the scan writes carries a canary of its own, so a hit says which flow leaked:
`CANARY-<32 random hex>` (ASCII), or a token of random non-ASCII letters (`unicode`
canaries), each registered with a label ("entry.body create", ...).

A canary is found in any of the forms a leak could take on its way to a log line, a
Redis value or a database page:

- as written, in any letter case, or only one half of it (a truncated log field);
- hex-encoded (a bytea column in `pg_dump`, a hex dump);
- for non-ASCII tokens: UTF-8, JSON `\\uXXXX` escapes, `\\xHH` escapes (Python reprs,
  Redis MONITOR) and `%HH` escapes (URLs);
- inside base64 (kombu message bodies, signed Django session data), also when the
  decoded bytes are zlib-compressed, and recursively (base64 in JSON in base64).

`Finder.count(data)` answers the hits by label. A full token counts once, not as its two
halves.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

PREFIX = "CANARY-"
# Letters outside ASCII (Latin-1 supplement and Latin Extended-A, Greek, Cyrillic): 2-byte
# UTF-8 each, none of them changed by NFC normalisation.
_UNICODE_ALPHABET = "ÆÐØÞßæðøþĦħŁłŊŋŒœŦŧΔΘΛΞΠΣΦΨΩБГДЖЗИЛПФЦЧШЩЭЮЯ"
_UNICODE_TOKEN_LENGTH = 16  # ~ 90 bits
_MIN_HALF = 8

_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/_-]{24,}={0,2}")
_MAX_DECODE_DEPTH = 3


@dataclass(frozen=True)
class Canary:
    label: str
    token: str  # the random part that is searched for
    text: str  # the whole text sent
    is_control: bool = False  # planted by the scanner itself to prove the search works


def _hex_token() -> str:
    return secrets.token_hex(16)


def _unicode_token() -> str:
    return "".join(secrets.choice(_UNICODE_ALPHABET) for _ in range(_UNICODE_TOKEN_LENGTH))


def _encodings(token: str) -> list[bytes]:
    """The byte forms in which `token` (or one half of it) may show up."""
    forms = [token.encode()]
    if token.isascii():
        forms.append(token.encode().hex().encode())
        return forms
    data = token.encode()
    forms += [
        "".join(f"\\u{ord(char):04x}" for char in token).encode(),
        "".join(f"\\x{byte:02x}" for byte in data).encode(),
        "".join(f"%{byte:02x}" for byte in data).encode(),
        data.hex().encode(),
    ]
    return forms


@dataclass
class Registry:
    """The canaries of one run."""

    canaries: list[Canary] = field(default_factory=list)

    def _add(self, label: str, token: str, text: str, *, is_control: bool = False) -> Canary:
        canary = Canary(label=label, token=token, text=text, is_control=is_control)
        self.canaries.append(canary)
        return canary

    def plain(self, label: str) -> str:
        """`CANARY-<hex>`: 39 characters, so it fits a 40-character tag."""
        token = _hex_token()
        return self._add(label, token, PREFIX + token).text

    def sentence(self, label: str) -> str:
        """The canary in the middle of an ordinary sentence."""
        token = _hex_token()
        text = f"After the session I felt {PREFIX}{token} warm in my chest, then quiet."
        return self._add(label, token, text).text

    def unicode(self, label: str) -> str:
        """Non-ASCII text around a token that is itself non-ASCII."""
        token = _unicode_token()
        text = f"Überall Stille 🌊 — ça va, 心 {token} ünd wëiter."
        return self._add(label, token, text).text

    def literal(self, label: str, text: str) -> Canary:
        """A text that the scan did not make up (an account's e-mail address), searched
        for as written."""
        return self._add(label, text, text)

    def control(self, label: str) -> Canary:
        token = _hex_token()
        return self._add(label, token, PREFIX + token, is_control=True)

    def get(self, label: str) -> Canary:
        return next(canary for canary in self.canaries if canary.label == label)

    def finder(self) -> Finder:
        return Finder(self.canaries)


class Finder:
    def __init__(self, canaries: Iterable[Canary]) -> None:
        self.canaries = list(canaries)
        alternatives: list[bytes] = []
        self._labels: dict[bytes, str] = {}
        for canary in self.canaries:
            token = canary.token
            half = max(_MIN_HALF, len(token) // 2)
            # Whole token first: an alternation takes the first alternative that matches,
            # so a whole token counts once rather than as two halves.
            for part in (token, token[:half], token[-half:]):
                for form in _encodings(part):
                    key = form.lower()
                    if key not in self._labels:
                        self._labels[key] = canary.label
                        alternatives.append(form)
        alternatives.sort(key=len, reverse=True)  # longest first, for the same reason
        self._pattern = re.compile(
            b"|".join(re.escape(form) for form in alternatives), re.IGNORECASE
        )

    def count(self, data: bytes | str) -> Counter[str]:
        """Hits by canary label in `data` and in whatever base64 inside it decodes to."""
        if isinstance(data, str):
            data = data.encode("utf-8", errors="surrogateescape")
        hits: Counter[str] = Counter()
        for blob in expand(data):
            for match in self._pattern.finditer(blob):
                hits[self._labels[match.group(0).lower()]] += 1
        return hits

    def leaks(self, hits: Counter[str]) -> Counter[str]:
        """The hits that are leaks: not those of the scanner's own control canaries."""
        controls = {canary.label for canary in self.canaries if canary.is_control}
        return Counter({label: n for label, n in hits.items() if label not in controls})


def expand(data: bytes, depth: int = 0) -> Iterator[bytes]:
    """`data`, then the decoding of every base64 run in it (and of runs in those)."""
    yield data
    if depth >= _MAX_DECODE_DEPTH:
        return
    for match in _BASE64_RUN.finditer(data):
        for decoded in _b64decodings(match.group(0)):
            yield from expand(decoded, depth + 1)
            inflated = _inflate(decoded)
            if inflated is not None:
                yield from expand(inflated, depth + 1)


def _b64decodings(run: bytes) -> Iterator[bytes]:
    """The run decoded from each of its first four characters: a run may carry a prefix
    of base64 letters that is not part of the encoding, and only the alignment that
    matches the real start gives the encoded bytes (the others give noise, never a
    canary, so nothing is counted twice)."""
    text = run.rstrip(b"=")
    alphabet_is_url = b"-" in text or b"_" in text
    for start in range(4):
        chunk = text[start:]
        if len(chunk) % 4 == 1:
            chunk = chunk[:-1]
        padded = chunk + b"=" * (-len(chunk) % 4)
        try:
            if alphabet_is_url:
                yield base64.urlsafe_b64decode(padded)
            else:
                yield base64.b64decode(padded)
        except (binascii.Error, ValueError):
            continue


def _inflate(data: bytes) -> bytes | None:
    """zlib (Django's compressed signed data) or gzip, else None."""
    if len(data) < 3:
        return None
    for wbits in (zlib.MAX_WBITS, 16 + zlib.MAX_WBITS):
        try:
            return zlib.decompressobj(wbits).decompress(data, 10_000_000)
        except zlib.error:
            continue
    return None


_MONITOR_ESCAPE = re.compile(rb'\\(x[0-9a-fA-F]{2}|["\\nrtab])')
_SIMPLE_ESCAPES = {b'"': b'"', b"\\": b"\\", b"n": b"\n", b"r": b"\r", b"t": b"\t"}
_SIMPLE_ESCAPES |= {b"a": b"\a", b"b": b"\b"}


def unescape_monitor(line: bytes) -> bytes:
    """A Redis MONITOR line with its arguments' escapes (`\\xHH`, `\\"`) undone."""

    def replace(match: re.Match[bytes]) -> bytes:
        code = match.group(1)
        if code.startswith(b"x"):
            return bytes([int(code[1:], 16)])
        return _SIMPLE_ESCAPES[code]

    return _MONITOR_ESCAPE.sub(replace, line)
