"""`TextField`: DRF's CharField with its check for lone surrogates asked of the UTF-8 codec.

The check must refuse exactly what DRF's refuses, with the same message naming the same
code point: clients read the message, and the fuzz suite sends every text field halves of
surrogate pairs.
"""

from __future__ import annotations

from typing import cast

import pytest
from django.core.validators import ProhibitNullCharactersValidator
from hypothesis import given
from hypothesis import strategies as st
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from backend.serializers import NoLoneSurrogates, TextField


def verdict(validator: object, text: str) -> tuple[str, str] | None:
    """None when the text passes, else the error's (message, code)."""
    try:
        validator(text)  # type: ignore[operator]
    except ValidationError as error:
        (detail,) = cast(list[ErrorDetail], error.detail)
        return str(detail), str(detail.code)
    return None


# Every code point, surrogates included (st.text leaves them out by default).
any_text = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=40)


@given(any_text)
def test_it_refuses_what_drf_refuses_with_the_same_message(text: str) -> None:
    assert verdict(NoLoneSurrogates(), text) == verdict(
        ProhibitSurrogateCharactersValidator(), text
    )


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("half \ud83d a pair", "U+D83D"),
        ("\udc00", "U+DC00"),
        ("caf\u00e9 \U0001f33f then \udfff and \ud800", "U+DFFF"),  # the first one
        ("x" * 19_999 + "\udbff", "U+DBFF"),
    ],
)
def test_it_names_the_first_lone_surrogate(text: str, named: str) -> None:
    refused = verdict(NoLoneSurrogates(), text)

    assert refused == (
        f"Surrogate characters are not allowed: {named}.",
        "surrogate_characters_not_allowed",
    )


@pytest.mark.parametrize("text", ["", "plain", "caf\u00e9 \U0001f33f \u4f60\u597d", "\ufffd"])
def test_it_lets_text_without_surrogates_through(text: str) -> None:
    assert verdict(NoLoneSurrogates(), text) is None


def test_a_text_field_keeps_every_other_check_in_drf_order() -> None:
    field = TextField(max_length=5, min_length=1)
    stock = [type(validator) for validator in field.validators]

    assert stock[-1] is NoLoneSurrogates
    assert ProhibitSurrogateCharactersValidator not in stock[:-1]
    assert ProhibitNullCharactersValidator in stock
    with pytest.raises(ValidationError) as too_long:
        field.run_validation("\udc00" * 6)
    # Both the length and the surrogate are reported, as DRF's CharField reports them.
    assert [detail.code for detail in cast(list[ErrorDetail], too_long.value.detail)] == [
        "max_length",
        "surrogate_characters_not_allowed",
    ]
