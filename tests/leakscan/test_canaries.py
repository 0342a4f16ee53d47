"""The canary search finds a canary in every form a leak could give it (fast, no service)."""

from __future__ import annotations

import base64
import json
import pickle
import zlib
from urllib.parse import quote

import pytest

from tests.leakscan.canaries import Registry, unescape_monitor


@pytest.fixture
def registry() -> Registry:
    return Registry()


def test_plain_sentence_and_unicode_canaries_are_found_as_written(registry) -> None:
    texts = {
        "plain": registry.plain("plain"),
        "sentence": registry.sentence("sentence"),
        "unicode": registry.unicode("unicode"),
    }
    finder = registry.finder()
    for label, text in texts.items():
        assert finder.count(f"log line: {text} end") == {label: 1}
    assert len(texts["plain"]) == 39  # fits a 40-character tag


def test_a_whole_token_counts_once_and_a_truncated_one_still_counts(registry) -> None:
    text = registry.plain("entry.body")
    finder = registry.finder()
    assert finder.count(text + " " + text) == {"entry.body": 2}
    assert finder.count(text[:24]) == {"entry.body": 1}  # the first half of the token
    assert finder.count(text[-16:].upper()) == {"entry.body": 1}
    assert finder.count(text[:12]) == {}


def test_unicode_canaries_are_found_in_escaped_forms(registry) -> None:
    text = registry.unicode("note")
    finder = registry.finder()
    assert finder.count(json.dumps(text)) == {"note": 1}  # \\uXXXX
    assert finder.count(repr(text.encode())) == {"note": 1}  # \\xHH
    assert finder.count(quote(text)) == {"note": 1}  # %HH
    assert finder.count(pickle.dumps(text)) == {"note": 1}  # the Redis cache's values


def test_canaries_inside_base64_json_and_compression_are_found(registry) -> None:
    text = registry.sentence("prompt.body")
    finder = registry.finder()
    # A kombu message: JSON whose body is base64 of JSON.
    body = base64.b64encode(json.dumps([[text], {}, {}]).encode()).decode()
    assert finder.count(json.dumps({"body": body, "headers": {}})) == {"prompt.body": 1}
    # Django's signed, compressed session data: ".<urlsafe base64 of zlib>:<signature>".
    packed = base64.urlsafe_b64encode(zlib.compress(json.dumps({"x": text}).encode()))
    assert finder.count(b"." + packed.rstrip(b"=") + b":1abc:sig") == {"prompt.body": 1}
    # A bytea column in pg_dump.
    assert finder.count("\\x" + text.encode().hex()) == {"prompt.body": 1}


def test_redis_monitor_escapes_are_undone(registry) -> None:
    text = registry.unicode("tag")
    finder = registry.finder()
    escaped = "".join(f"\\x{byte:02x}" for byte in text.encode()).encode()
    line = b'1700000000.1 [8 127.0.0.1:1] "SET" "k" "{\\"t\\": \\"' + escaped + b'\\"}"'
    assert finder.count(unescape_monitor(line)) == {"tag": 1}


def test_control_canaries_are_not_leaks(registry) -> None:
    registry.plain("entry.title")
    control = registry.control("control: planted")
    finder = registry.finder()
    hits = finder.count(control.text)
    assert hits == {"control: planted": 1}
    assert finder.leaks(hits) == {}


def test_an_address_is_found_in_any_case_and_inside_base64(registry) -> None:
    registry.literal("address: patient", "leakscan-patient-1a2b3c4d@example.org")
    finder = registry.finder()
    line = '{"message": "login failure by LeakScan-Patient-1A2B3C4D@Example.org"}'
    assert finder.count(line) == {"address: patient": 1}
    hidden = base64.b64encode(b"user=leakscan-patient-1a2b3c4d@example.org").decode()
    assert finder.count(hidden) == {"address: patient": 1}
    assert finder.count('{"account": "addr:0f1e2d3c4b5a6978"}') == {}
