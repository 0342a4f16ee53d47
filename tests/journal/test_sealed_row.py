"""journal.crypto.SealedRow, `seal_in_row` and `open_in_row`: a row's fields sealed and
opened with the row's part of the associated data encoded once, which must change nothing
but the cost. No database."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from journal.crypto import (
    SealContext,
    SealedRow,
    SealedValueError,
    SealingKey,
    open_in_row,
    open_sealed,
    seal,
    seal_in_row,
)
from tests.journal.legacy_tokens import legacy_seal

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
ROW = SealedRow("journal_entry", "entry-1", "patient-1", 4)


def key_for(version: int) -> SealingKey:
    """Key version 3 only, as a sealer with one data key answers."""
    if version != 3:
        raise SealedValueError("no data key of this version")
    return SealingKey(KEY)


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    table=st.sampled_from(["journal_entry", "journal_treatmentsession", "tablé"]),
    field=st.sampled_from(["title_sealed", "content_sealed", "x"]),
    row_id=st.text(st.characters(codec="utf-8"), min_size=1, max_size=40),
    row_version=st.integers(min_value=1, max_value=2**32 - 1),
    key_version=st.integers(min_value=1, max_value=2**32 - 1),
)
def test_aad_is_the_bytes_of_the_fields_context(table, field, row_id, row_version, key_version):
    row = SealedRow(table, row_id, "patient-1", row_version)
    context = SealContext(table, field, row_id, "patient-1", row_version)

    assert row.context(field) == context
    assert row.aad(key_version, field) == context.aad(key_version)


@hypothesis_settings(max_examples=60, deadline=None)
@given(text=st.text(st.characters(codec="utf-8"), max_size=500))
def test_a_row_opens_what_a_context_sealed_and_the_other_way(text):
    context = ROW.context("content_sealed")
    by_context = seal(KEY, text, context=context, key_version=3)
    by_row = seal_in_row(SealingKey(KEY), text, row=ROW, field="content_sealed", key_version=3)

    assert open_in_row(key_for, by_context, row=ROW, field="content_sealed") == text
    assert open_sealed(KEY, by_row, context=context) == text


@pytest.mark.parametrize(
    ("row", "field"),
    [
        (SealedRow("journal_entry", "entry-2", "patient-1", 4), "content_sealed"),
        (SealedRow("journal_entry", "entry-1", "patient-2", 4), "content_sealed"),
        (SealedRow("journal_entry", "entry-1", "patient-1", 3), "content_sealed"),
        (SealedRow("journal_entry", "entry-1", "patient-1", 5), "content_sealed"),
        (SealedRow("journal_other", "entry-1", "patient-1", 4), "content_sealed"),
        (ROW, "title_sealed"),
    ],
)
def test_a_token_moved_to_another_place_fails_closed(row, field):
    token = seal_in_row(KEY, "private words", row=ROW, field="content_sealed", key_version=3)

    with pytest.raises(SealedValueError):
        open_in_row(key_for, token, row=row, field=field)


def test_every_single_character_change_fails_closed():
    token = seal_in_row(KEY, "private words", row=ROW, field="title_sealed", key_version=3)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=.é"
    for index in range(len(token)):
        for char in {alphabet[index % len(alphabet)], "+", "/", "=", "é"} - {token[index]}:
            changed = token[:index] + char + token[index + 1 :]
            with pytest.raises(SealedValueError):
                open_in_row(key_for, changed, row=ROW, field="title_sealed")


def test_truncation_and_non_canonical_base64_fail_closed():
    token = seal_in_row(KEY, "private", row=ROW, field="title_sealed", key_version=3)
    for length in range(len(token)):
        with pytest.raises(SealedValueError):
            open_in_row(key_for, token[:length], row=ROW, field="title_sealed")
    # Sealed text of 7 bytes: 40 raw bytes, whose last character carries unused low bits.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    same_bytes = token[:-1] + alphabet[alphabet.index(token[-1]) ^ 1]
    with pytest.raises(SealedValueError, match="canonical"):
        open_in_row(key_for, same_bytes, row=ROW, field="title_sealed")


def test_the_wrong_key_fails_closed():
    token = seal_in_row(OTHER_KEY, "private", row=ROW, field="title_sealed", key_version=3)

    with pytest.raises(SealedValueError):
        open_in_row(key_for, token, row=ROW, field="title_sealed")


def test_a_legacy_token_opens_only_when_accepted():
    context = ROW.context("title_sealed")
    token = legacy_seal(KEY, "written long ago", context=context, key_version=3)

    with pytest.raises(SealedValueError, match="no longer accepted"):
        open_in_row(key_for, token, row=ROW, field="title_sealed")
    opened = open_in_row(key_for, token, row=ROW, field="title_sealed", accept_legacy=True)
    assert opened == "written long ago"


@pytest.mark.parametrize(
    "parts",
    [
        ("", "entry-1", "patient-1", 4),
        ("journal_entry", "", "patient-1", 4),
        ("journal_entry", "entry-1", "", 4),
        ("journal_entry", "entry-1", "patient-1", 0),
        ("journal_entry", "entry-1", "patient-1", True),
        ("journal_entry", "entry-\ud800", "patient-1", 4),
    ],
)
def test_a_row_checks_its_parts_as_a_context_does(parts):
    with pytest.raises((TypeError, ValueError)):
        SealedRow(*parts)


@pytest.mark.parametrize(("field", "key_version"), [("", 3), ("x\ud800", 3), ("x", 0)])
def test_a_field_name_and_key_version_are_checked_as_a_context_checks_them(field, key_version):
    with pytest.raises((TypeError, ValueError)):
        seal_in_row(KEY, "text", row=ROW, field=field, key_version=key_version)
