"""The API's JSON parser: deeply nested bodies answer 400, never a RecursionError 500."""

from __future__ import annotations

import io

import pytest
from django.conf import settings
from rest_framework.exceptions import ParseError

from backend.parsers import MAX_DEPTH, SafeJSONParser


def parse(body: bytes):
    return SafeJSONParser().parse(io.BytesIO(body), "application/json", {})


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def test_parses_ordinary_json() -> None:
    assert parse(b'{"title": "x", "tags": ["a"], "mood": 3}') == {
        "title": "x",
        "tags": ["a"],
        "mood": 3,
    }


def test_accepts_nesting_up_to_the_limit() -> None:
    assert parse(nested(MAX_DEPTH)) is not None


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 500, 100_000])
def test_refuses_deeper_nesting_as_a_parse_error(depth: int) -> None:
    with pytest.raises(ParseError):
        parse(nested(depth))


def test_refuses_deep_objects_too() -> None:
    with pytest.raises(ParseError):
        parse(b'{"a":' * 10_000 + b"1" + b"}" * 10_000)


def test_is_the_parser_the_api_uses() -> None:
    assert settings.REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"] == ["backend.parsers.SafeJSONParser"]


@pytest.mark.django_db
def test_a_deeply_nested_body_answers_a_400_problem(client) -> None:
    response = client.post("/api/v1/auth/login/", nested(10_000), content_type="application/json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "parse_error"
