"""journal.crypto: sealing, key wrapping, the key ring and the data-key cache. No database."""

from __future__ import annotations

import base64
import contextlib
import struct
import threading
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from journal.crypto import (
    KeyConfigError,
    KeyRing,
    SealContext,
    SealedValueError,
    is_legacy_token,
    new_data_key,
    open_sealed,
    seal,
    wrapped_key_version,
)
from journal.keys import DataKeyCache
from tests.journal.legacy_tokens import legacy_seal, legacy_seal_aad

CONTEXT = SealContext(
    table="journal_entry", field="body", row_id="entry-1", owner_id="patient-1", row_version=4
)
KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
KEK_1 = b"\x01" * 32
KEK_2 = b"\x02" * 32
KEK_3 = b"\x03" * 32
PREFIX = "ag2."

encodable_text = st.text(st.characters(codec="utf-8"), max_size=2_000)


def versions_asked_for(token) -> list[int]:
    """The key versions `open_sealed` asks its key function for, opening `token`."""
    asked: list[int] = []

    def key_for(version: int) -> bytes:
        asked.append(version)
        return KEY

    with contextlib.suppress(SealedValueError):
        open_sealed(key_for, token, context=CONTEXT)
    return asked


def raw_payload(token: str) -> bytes:
    body = token.removeprefix(PREFIX)
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))


def encode_payload(raw: bytes) -> str:
    return PREFIX + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def assert_fails_closed(token: object, *, key: bytes = KEY, context: SealContext = CONTEXT):
    with pytest.raises(SealedValueError) as caught:
        open_sealed(key, token, context=context)  # type: ignore[arg-type]
    if isinstance(token, str) and len(token) > len(PREFIX) + 8:
        assert token.removeprefix(PREFIX)[:8] not in str(caught.value)


# Sealing


@hypothesis_settings(max_examples=150, deadline=None)
@given(text=encodable_text)
@example(text="")
@example(text="Ich fühlte mich 🌅 leicht.\x00\n" * 800)
@example(text="\U0010ffff" * 20_000)
def test_round_trips_any_unicode_text(text):
    token = seal(KEY, text, context=CONTEXT, key_version=3)

    assert open_sealed(KEY, token, context=CONTEXT) == text
    assert versions_asked_for(token) == [3]


@hypothesis_settings(max_examples=30, deadline=None)
@given(prefix=encodable_text, suffix=encodable_text, surrogate=st.integers(0xD800, 0xDFFF))
def test_rejects_text_with_a_lone_surrogate_without_echoing_it(prefix, suffix, surrogate):
    text = prefix + chr(surrogate) + suffix

    with pytest.raises(ValueError, match="not valid Unicode") as caught:
        seal(KEY, text, context=CONTEXT, key_version=1)

    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_two_seals_of_the_same_text_differ():
    first = seal(KEY, "same words", context=CONTEXT, key_version=1)
    second = seal(KEY, "same words", context=CONTEXT, key_version=1)

    assert first != second
    assert raw_payload(first)[5:17] != raw_payload(second)[5:17]


def test_token_is_self_describing_and_does_not_contain_the_plaintext():
    token = seal(KEY, "secret feelings", context=CONTEXT, key_version=7)

    raw = raw_payload(token)
    assert token.startswith(PREFIX)
    assert struct.unpack(">BI", raw[:5]) == (1, 7)
    assert len(raw) == 5 + 12 + len("secret feelings") + 16
    assert b"secret" not in raw


def test_every_single_byte_flip_fails_closed():
    token = seal(KEY, "a short entry", context=CONTEXT, key_version=2)
    raw = raw_payload(token)

    for index in range(len(raw)):
        for mask in (0x01, 0x80, 0xFF):
            tampered = bytearray(raw)
            tampered[index] ^= mask
            assert_fails_closed(encode_payload(bytes(tampered)))


def test_truncation_at_every_length_fails_closed():
    token = seal(KEY, "a short entry", context=CONTEXT, key_version=2)
    raw = raw_payload(token)

    for length in range(len(token)):
        assert_fails_closed(token[:length])
    for length in range(len(raw)):
        assert_fails_closed(encode_payload(raw[:length]))


@pytest.mark.parametrize(
    "moved",
    [
        SealContext("journal_other", "body", "entry-1", "patient-1", row_version=4),
        SealContext("journal_entry", "title", "entry-1", "patient-1", row_version=4),
        SealContext("journal_entry", "body", "entry-2", "patient-1", row_version=4),
        SealContext("journal_entry", "body", "entry-1", "patient-2", row_version=4),
        # Parts that would run together if the encoding were a plain concatenation.
        SealContext("journal_entr", "ybody", "entry-1", "patient-1", row_version=4),
        # The same place, another version of the row: an older text put back, or a newer.
        SealContext("journal_entry", "body", "entry-1", "patient-1", row_version=3),
        SealContext("journal_entry", "body", "entry-1", "patient-1", row_version=5),
    ],
)
def test_rejects_ciphertext_moved_to_another_context(moved):
    token = seal(KEY, "bound to its row", context=CONTEXT, key_version=1)

    assert_fails_closed(token, context=moved)


@pytest.mark.parametrize("new_version", [1, 3, 2**32 - 1])
def test_rejects_edited_key_version_in_header(new_version):
    token = seal(KEY, "versioned", context=CONTEXT, key_version=2)
    raw = raw_payload(token)

    edited = encode_payload(raw[:1] + struct.pack(">I", new_version) + raw[5:])

    assert versions_asked_for(edited) == [new_version]
    assert_fails_closed(edited)


def test_rejects_wrong_data_key():
    token = seal(KEY, "for one patient", context=CONTEXT, key_version=1)

    assert_fails_closed(token, key=OTHER_KEY)
    assert_fails_closed(token, key=new_data_key())


@pytest.mark.parametrize(
    "malformed",
    [
        "",
        "ag1.",
        "ag1",
        "ag2.",
        "ag3." + "A" * 60,
        "AG2." + "A" * 60,
        "ag2." + "A" * 61,
        "ag2." + "A" * 30 + " " + "A" * 29,
        "ag1." + "A" * 61,  # length 1 mod 4 is not base64
        "ag1." + "A" * 59 + "=",
        "ag1." + "A" * 59 + "+",
        "ag1." + "A" * 30 + " " + "A" * 29,
        "ag1." + "A" * 30 + "\n" + "A" * 29,
        "ag1.A256GCM.1.AAAA.AAAA",
        None,
        b"ag1.AAAA",
    ],
)
def test_malformed_tokens_fail_closed(malformed):
    assert_fails_closed(malformed)
    assert versions_asked_for(malformed) == []  # refused before any key is looked up


def test_unknown_algorithm_fails_closed():
    raw = raw_payload(seal(KEY, "x", context=CONTEXT, key_version=1))

    with pytest.raises(SealedValueError, match="unknown algorithm"):
        open_sealed(KEY, encode_payload(b"\x02" + raw[1:]), context=CONTEXT)


def test_non_canonical_base64_fails_closed():
    token = seal(KEY, "x", context=CONTEXT, key_version=1)
    body = token.removeprefix(PREFIX)
    # The last character carries unused low bits when the length is not a multiple of 3.
    assert len(raw_payload(token)) % 3 != 0
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(body[-1])
    variant = PREFIX + body[:-1] + alphabet[last | 1]

    assert raw_payload(variant) == raw_payload(token)
    assert_fails_closed(variant)


def test_error_messages_hold_no_plaintext_or_ciphertext():
    token = seal(KEY, "my private words", context=CONTEXT, key_version=1)

    with pytest.raises(SealedValueError) as caught:
        open_sealed(OTHER_KEY, token, context=CONTEXT)

    message = str(caught.value)
    assert "private" not in message
    assert token.removeprefix(PREFIX)[:16] not in message
    assert caught.value.__cause__ is None


@pytest.mark.parametrize("bad_key", [b"", b"\x00" * 16, b"\x00" * 33])
def test_seal_rejects_a_data_key_of_the_wrong_length(bad_key):
    with pytest.raises(ValueError, match="32 bytes"):
        seal(bad_key, "x", context=CONTEXT, key_version=1)


@pytest.mark.parametrize("bad_version", [0, -1, 2**32, True])
def test_seal_rejects_an_invalid_key_version(bad_version):
    with pytest.raises((ValueError, TypeError)):
        seal(KEY, "x", context=CONTEXT, key_version=bad_version)


@pytest.mark.parametrize(
    ("field", "value"),
    [("table", ""), ("field", ""), ("row_id", ""), ("owner_id", ""), ("row_id", "\ud800")],
)
def test_context_rejects_empty_or_unencodable_parts(field, value):
    parts: dict[str, Any] = {"table": "t", "field": "f", "row_id": "r", "owner_id": "o"}
    parts |= {"row_version": 1, field: value}

    with pytest.raises(ValueError, match=field):
        SealContext(**parts)


def test_context_rejects_non_str_parts():
    with pytest.raises(TypeError, match="row_id"):
        SealContext(table="t", field="f", row_id=1, owner_id="o", row_version=1)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad_version", [0, -1, 2**32, True, "1", None])
def test_context_rejects_a_row_version_that_is_not_a_positive_int(bad_version):
    with pytest.raises((TypeError, ValueError), match="row_version"):
        SealContext(table="t", field="f", row_id="r", owner_id="o", row_version=bad_version)


def test_aad_bytes_are_those_every_stored_token_was_sealed_with():
    """The associated data's layout is part of every stored token: each of nine parts as
    a 4-byte big-endian length and its UTF-8 bytes, the row's version last. Written out
    here by hand, so a faster encoding can never change it."""
    head = b"\x00\x00\x00\x16afterglow.journal.seal\x00\x00\x00\x012\x00\x00\x00\x07A256GCM"
    tail = b"\x00\x00\x00\x017\x00\x00\x00\x0djournal_entry\x00\x00\x00\x04body"
    owner = b"\x00\x00\x00\x09patient-1"
    row_version = b"\x00\x00\x00\x014"
    assert CONTEXT.aad(7) == head + tail + b"\x00\x00\x00\x07entry-1" + owner + row_version
    accented = SealContext("journal_entry", "body", "entrée-1", "patient-1", row_version=12)
    assert accented.aad(7) == (
        head + tail + b"\x00\x00\x00\x09entr\xc3\xa9e-1" + owner + b"\x00\x00\x00\x0212"
    )


def test_legacy_aad_bytes_are_those_every_format_1_token_was_sealed_with():
    """Format 1 (before the row's version was bound): eight parts, format "1", no row
    version. Rows not yet re-sealed open with exactly these bytes."""
    head = b"\x00\x00\x00\x16afterglow.journal.seal\x00\x00\x00\x011\x00\x00\x00\x07A256GCM"
    tail = b"\x00\x00\x00\x017\x00\x00\x00\x0djournal_entry\x00\x00\x00\x04body"
    owner = b"\x00\x00\x00\x09patient-1"
    assert CONTEXT.legacy_aad(7) == head + tail + b"\x00\x00\x00\x07entry-1" + owner
    assert legacy_seal_aad(CONTEXT, 7) == CONTEXT.legacy_aad(7)


def test_aad_differs_by_key_version_context_and_row_version():
    assert CONTEXT.aad(1) != CONTEXT.aad(2)
    moved = SealContext("journal_entr", "ybody", "entry-1", "patient-1", row_version=4)
    assert CONTEXT.aad(1) != moved.aad(1)
    later = SealContext("journal_entry", "body", "entry-1", "patient-1", row_version=5)
    assert CONTEXT.aad(1) != later.aad(1)
    assert CONTEXT.legacy_aad(1) == later.legacy_aad(1)
    assert b"A256GCM" in CONTEXT.aad(1)


# Format 1 (legacy): not bound to the row's version


def test_a_legacy_token_opens_only_when_legacy_tokens_are_accepted():
    token = legacy_seal(KEY, "written before the upgrade", context=CONTEXT, key_version=3)

    assert token.startswith("ag1.")
    assert is_legacy_token(token)
    assert not is_legacy_token(seal(KEY, "new", context=CONTEXT, key_version=3))
    assert open_sealed(KEY, token, context=CONTEXT, accept_legacy=True) == (
        "written before the upgrade"
    )
    with pytest.raises(SealedValueError, match="no longer accepted"):
        open_sealed(KEY, token, context=CONTEXT)


def test_a_legacy_token_still_fails_closed_when_moved_or_tampered():
    token = legacy_seal(KEY, "bound to its row", context=CONTEXT, key_version=3)
    elsewhere = SealContext("journal_entry", "body", "entry-2", "patient-1", row_version=4)

    with pytest.raises(SealedValueError):
        open_sealed(KEY, token, context=elsewhere, accept_legacy=True)
    with pytest.raises(SealedValueError):
        open_sealed(OTHER_KEY, token, context=CONTEXT, accept_legacy=True)
    body = token.removeprefix("ag1.")
    flipped = "ag1." + body[:-3] + ("A" if body[-3] != "A" else "B") + body[-2:]
    with pytest.raises(SealedValueError):
        open_sealed(KEY, flipped, context=CONTEXT, accept_legacy=True)


def test_a_current_token_relabelled_as_legacy_fails_closed():
    """Editing the prefix to the old format cannot drop the row's version from the
    associated data: the format is part of it."""
    token = seal(KEY, "bound to its version", context=CONTEXT, key_version=3)

    relabelled = "ag1." + token.removeprefix(PREFIX)
    with pytest.raises(SealedValueError):
        open_sealed(KEY, relabelled, context=CONTEXT, accept_legacy=True)


def test_new_data_key_is_32_random_bytes():
    keys = {new_data_key() for _ in range(10)}

    assert len(keys) == 10
    assert all(len(key) == 32 for key in keys)


# Wrapping


@pytest.fixture
def ring() -> KeyRing:
    return KeyRing({2: KEK_2, 1: KEK_1}, active_version=2)


def test_wrap_unwrap_round_trip(ring):
    data_key = new_data_key()

    version, wrapped = ring.wrap_data_key(data_key, owner_id="patient-1", dek_version=1)

    assert version == 2
    assert wrapped_key_version(wrapped) == 2
    assert data_key not in wrapped
    assert ring.unwrap_data_key(wrapped, owner_id="patient-1", dek_version=1) == data_key
    assert ring.unwrap_data_key(memoryview(wrapped), owner_id="patient-1", dek_version=1) == (
        data_key
    )


@pytest.mark.parametrize(
    ("owner_id", "dek_version"), [("patient-2", 1), ("patient-1", 2), ("patient-11", 1)]
)
def test_rejects_wrapped_key_moved_to_another_owner_or_version(ring, owner_id, dek_version):
    _, wrapped = ring.wrap_data_key(new_data_key(), owner_id="patient-1", dek_version=1)

    with pytest.raises(SealedValueError, match="failed authentication"):
        ring.unwrap_data_key(wrapped, owner_id=owner_id, dek_version=dek_version)


def test_every_single_byte_flip_of_a_wrapped_key_fails_closed(ring):
    _, wrapped = ring.wrap_data_key(new_data_key(), owner_id="patient-1", dek_version=1)

    for index in range(len(wrapped)):
        tampered = bytearray(wrapped)
        tampered[index] ^= 0x01
        with pytest.raises(SealedValueError):
            ring.unwrap_data_key(bytes(tampered), owner_id="patient-1", dek_version=1)


def test_truncated_or_extended_wrapped_key_fails_closed(ring):
    _, wrapped = ring.wrap_data_key(new_data_key(), owner_id="patient-1", dek_version=1)

    for candidate in [wrapped[:length] for length in range(len(wrapped))] + [wrapped + b"\x00"]:
        with pytest.raises(SealedValueError):
            ring.unwrap_data_key(candidate, owner_id="patient-1", dek_version=1)


def test_unknown_kek_version_fails_closed(ring):
    newer = KeyRing({3: KEK_3, 2: KEK_2}, active_version=3)
    _, wrapped = newer.wrap_data_key(new_data_key(), owner_id="patient-1", dek_version=1)

    with pytest.raises(SealedValueError, match="key version 3 not configured"):
        ring.unwrap_data_key(wrapped, owner_id="patient-1", dek_version=1)


def test_same_version_with_a_different_kek_fails_closed(ring):
    impostor = KeyRing({2: KEK_3}, active_version=2)
    _, wrapped = impostor.wrap_data_key(new_data_key(), owner_id="patient-1", dek_version=1)

    with pytest.raises(SealedValueError, match="failed authentication"):
        ring.unwrap_data_key(wrapped, owner_id="patient-1", dek_version=1)


def test_rewrap_moves_to_the_active_version(ring):
    data_key = new_data_key()
    old_ring = KeyRing({1: KEK_1}, active_version=1)
    old_version, old_wrapped = old_ring.wrap_data_key(data_key, owner_id="p", dek_version=4)

    version, rewrapped = ring.rewrap(old_wrapped, owner_id="p", dek_version=4)

    assert (old_version, version) == (1, 2)
    assert wrapped_key_version(rewrapped) == 2
    assert ring.unwrap_data_key(rewrapped, owner_id="p", dek_version=4) == data_key
    with pytest.raises(SealedValueError, match="key version 2 not configured"):
        old_ring.unwrap_data_key(rewrapped, owner_id="p", dek_version=4)


def test_rewrap_of_an_active_wrapped_key_stays_valid(ring):
    data_key = new_data_key()
    _, wrapped = ring.wrap_data_key(data_key, owner_id="p", dek_version=1)

    version, rewrapped = ring.rewrap(wrapped, owner_id="p", dek_version=1)

    assert version == 2
    assert rewrapped != wrapped
    assert ring.unwrap_data_key(rewrapped, owner_id="p", dek_version=1) == data_key


def test_rewrap_refuses_a_wrapped_key_of_another_owner(ring):
    _, wrapped = ring.wrap_data_key(new_data_key(), owner_id="p", dek_version=1)

    with pytest.raises(SealedValueError):
        ring.rewrap(wrapped, owner_id="q", dek_version=1)


# Key ring configuration


def test_parse_takes_the_first_item_as_active():
    ring = KeyRing.parse([f"1:{b64(KEK_1)}", f" 3:{b64(KEK_3)} "])

    assert ring.active_version == 1
    assert ring.versions == (3, 1)


def test_from_settings_reads_journal_keks():
    ring = KeyRing.from_settings()

    assert ring.active_version == 2
    assert ring.versions == (2, 1)


def test_from_settings_without_keks_is_a_config_error(settings):
    del settings.JOURNAL_KEKS

    with pytest.raises(KeyConfigError, match="not set"):
        KeyRing.from_settings()


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([], "no key-encryption key"),
        (f"1:{b64(KEK_1)}", "must be a list"),
        ([f"1:{b64(KEK_1)}", f"1:{b64(KEK_2)}"], "listed twice"),
        ([f"1:{b64(KEK_1[:16])}"], "not 32 bytes"),
        ([f"1:{b64(KEK_1 + b'x')}"], "not 32 bytes"),
        ([f"1:{b64(KEK_1)[:-2]}"], "not valid base64"),
        ([f"1:{b64(KEK_1).replace('A', '-')}"], "not 'version:base64key'"),
        ([b64(KEK_1)], "not 'version:base64key'"),
        ([f"v1:{b64(KEK_1)}"], "not 'version:base64key'"),
        ([f"1 :{b64(KEK_1)}"], "not 'version:base64key'"),
        ([f"0:{b64(KEK_1)}"], "between 1 and"),
        ([f"{2**32}:{b64(KEK_1)}"], "between 1 and"),
        ([f"{'9' * 5000}:{b64(KEK_1)}"], "not 'version:base64key'"),
        ([""], "not 'version:base64key'"),
    ],
)
def test_parse_rejects_bad_configuration(items, message):
    with pytest.raises(KeyConfigError, match=message) as caught:
        KeyRing.parse(items)

    assert b64(KEK_1)[:12] not in str(caught.value)


def test_key_ring_rejects_inactive_version_and_bad_keys():
    with pytest.raises(KeyConfigError, match="active key version 3"):
        KeyRing({1: KEK_1}, active_version=3)
    with pytest.raises(KeyConfigError, match="not 32 bytes"):
        KeyRing({1: b"short"}, active_version=1)
    with pytest.raises(KeyConfigError):
        KeyRing({}, active_version=1)


def test_key_ring_repr_holds_no_key_material(ring):
    assert "\\x02" not in repr(ring)
    assert repr(ring) == "KeyRing(active_version=2, versions=(2, 1))"


# Data-key cache


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_cache_evicts_the_least_recently_used_entry():
    cache = DataKeyCache(max_entries=2)
    cache.put(("a", 1), b"A")
    cache.put(("b", 1), b"B")
    assert cache.get(("a", 1)) == b"A"  # "b" is now the least recently used

    cache.put(("c", 1), b"C")

    assert len(cache) == 2
    assert cache.get(("b", 1)) is None
    assert cache.get(("a", 1)) == b"A"
    assert cache.get(("c", 1)) == b"C"


def test_cache_entries_expire_after_the_ttl_even_when_read():
    clock = FakeClock()
    cache = DataKeyCache(ttl_seconds=10, clock=clock)
    cache.put(("a", 1), b"A")

    clock.now += 9.9
    assert cache.get(("a", 1)) == b"A"
    clock.now += 0.1

    assert cache.get(("a", 1)) is None
    assert len(cache) == 0


def test_cache_len_drops_expired_entries():
    clock = FakeClock()
    cache = DataKeyCache(ttl_seconds=10, clock=clock)
    cache.put(("a", 1), b"A")
    clock.now += 5
    cache.put(("b", 1), b"B")

    clock.now += 5

    assert len(cache) == 1
    assert cache.get(("b", 1)) == b"B"


def test_cache_discard_owner_drops_only_that_owners_keys():
    cache = DataKeyCache()
    cache.put(("a", 1), b"A1")
    cache.put(("a", 2), b"A2")
    cache.put(("b", 1), b"B1")

    cache.discard_owner("a")

    assert cache.get(("a", 1)) is None
    assert cache.get(("a", 2)) is None
    assert cache.get(("b", 1)) == b"B1"
    assert len(cache) == 1


def test_cache_makes_one_sealing_key_per_entry_and_drops_it_with_the_entry():
    clock = FakeClock()
    cache = DataKeyCache(ttl_seconds=10, clock=clock)
    key = new_data_key()
    cache.put(("a", 1), key)
    cache.put(("b", 1), new_data_key())

    first = cache.sealing_key(("a", 1))
    assert first is not None
    assert cache.sealing_key(("a", 1)) is first  # one AES-GCM instance across requests
    assert cache.get(("a", 1)) == key
    context = SealContext("journal_entry", "body", "row-1", "a", 1)
    token = seal(first, "kept", context=context, key_version=1)
    assert open_sealed(key, token, context=context) == "kept"

    cache.discard_owner("a")  # erasure: the instance goes with the raw key
    assert cache.sealing_key(("a", 1)) is None
    clock.now += 10  # expiry too
    assert cache.sealing_key(("b", 1)) is None
    assert cache.sealing_key(("c", 1)) is None


def test_cache_clear_and_repr_hold_no_values():
    cache = DataKeyCache()
    cache.put(("a", 1), b"secret-key-bytes")

    assert "secret" not in repr(cache)
    cache.clear()
    assert len(cache) == 0


@pytest.mark.parametrize(("max_entries", "ttl"), [(0, 1.0), (1, 0.0), (1, -1.0)])
def test_cache_rejects_nonsense_limits(max_entries, ttl):
    with pytest.raises(ValueError, match=r"max_entries|ttl_seconds"):
        DataKeyCache(max_entries=max_entries, ttl_seconds=ttl)


def test_cache_is_thread_safe_under_concurrent_use():
    cache = DataKeyCache(max_entries=50)
    errors: list[Exception] = []

    def work(worker: int) -> None:
        try:
            for step in range(2_000):
                key = (f"owner-{step % 80}", worker % 3)
                cache.put(key, bytes([worker]) * 32)
                value = cache.get(key)
                assert value is None or len(value) == 32
                if step % 97 == 0:
                    cache.discard_owner(f"owner-{step % 80}")
                assert len(cache) <= 50
        except Exception as error:  # re-raised by the main thread's assertion
            errors.append(error)

    threads = [threading.Thread(target=work, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(cache) <= 50
