"""Every 4xx and 5xx answers one problem-details shape, and never echoes input."""

from __future__ import annotations

import json
import logging

import pytest
from rest_framework.test import APIClient

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.backend.urls_with_failures")]

PROBLEM_KEYS = {"type", "title", "status", "detail", "code"}


def assert_problem(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body.keys() >= PROBLEM_KEYS
    assert body["status"] == status
    assert body["type"] == f"urn:afterglow:problem:{body['code']}"
    assert body["request_id"] == response["X-Request-ID"]
    if code is not None:
        assert body["code"] == code
    return body


def test_unknown_url_answers_404_problem(api_client: APIClient) -> None:
    assert_problem(api_client.get("/api/v1/no-such-thing/"), 404, "not_found")


def test_unknown_url_outside_api_answers_404_problem(api_client: APIClient) -> None:
    assert_problem(api_client.get("/nothing-here"), 404, "not_found")


def test_wrong_method_answers_405_problem(api_client: APIClient) -> None:
    assert_problem(api_client.delete("/healthz"), 405, "method_not_allowed")


def test_malformed_json_answers_400_without_echo(api_client: APIClient) -> None:
    response = api_client.post(
        "/api/test/validate", data=b'{"kind": "my secret words', content_type="application/json"
    )
    body = assert_problem(response, 400, "parse_error")
    assert "secret" not in response.content.decode()
    assert body["detail"] == "The request body is not valid JSON in UTF-8."


def test_invalid_utf8_answers_400(api_client: APIClient) -> None:
    response = api_client.post(
        "/api/test/validate", data=b'{"kind": "\xff\xfe"}', content_type="application/json"
    )
    assert_problem(response, 400, "parse_error")


def test_wrong_content_type_answers_415(api_client: APIClient) -> None:
    response = api_client.post("/api/test/validate", data="kind=a", content_type="text/plain")
    assert_problem(response, 415, "unsupported_media_type")


def test_validation_errors_name_fields_and_do_not_echo_input(api_client: APIClient) -> None:
    response = api_client.post(
        "/api/test/validate",
        data={"kind": "my private words", "count": 99},
        format="json",
    )
    body = assert_problem(response, 400, "validation")
    assert set(body["errors"]) == {"kind", "count"}
    assert "my private words" not in response.content.decode()
    assert body["errors"]["kind"] == ["This value is invalid."]


def test_oversized_body_answers_413_before_parsing(api_client: APIClient, settings) -> None:
    settings.MAX_REQUEST_BODY_BYTES = 1024
    payload = json.dumps({"kind": "a" * 2000})
    response = api_client.post("/api/test/validate", data=payload, content_type="application/json")
    assert_problem(response, 413, "payload_too_large")


def test_unhandled_exception_in_api_answers_500_without_trace(
    api_client: APIClient, caplog: pytest.LogCaptureFixture
) -> None:
    api_client.raise_request_exception = False
    with caplog.at_level(logging.ERROR):
        response = api_client.get("/api/test/boom")
    assert_problem(response, 500, "server_error")
    text = response.content.decode()
    assert "Traceback" not in text
    assert "secret journal words" not in text
    assert "secret journal words" not in caplog.text


def test_unhandled_exception_in_plain_view_answers_500_problem(api_client: APIClient) -> None:
    api_client.raise_request_exception = False
    response = api_client.get("/test/plain-boom")
    assert_problem(response, 500, "server_error")
    assert "secret" not in response.content.decode()


def test_unauthenticated_request_answers_401_problem(api_client: APIClient) -> None:
    assert_problem(api_client.get("/api/v1/me/"), 401, "not_authenticated")


def test_bad_token_answers_401_problem(api_client: APIClient) -> None:
    api_client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert_problem(api_client.get("/api/v1/me/"), 401, "authentication_failed")


def test_every_response_is_no_store_and_carries_a_request_id(api_client: APIClient) -> None:
    response = api_client.get("/healthz")
    assert response["Cache-Control"] == "no-store"
    assert len(response["X-Request-ID"]) >= 8


def test_client_request_id_is_kept_when_well_formed(api_client: APIClient) -> None:
    response = api_client.get("/healthz", HTTP_X_REQUEST_ID="phone-1234-abcd")
    assert response["X-Request-ID"] == "phone-1234-abcd"
    response = api_client.get("/healthz", HTTP_X_REQUEST_ID="bad id with spaces")
    assert response["X-Request-ID"] != "bad id with spaces"


def test_security_headers_are_set(api_client: APIClient) -> None:
    response = api_client.get("/healthz", secure=True)
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "no-referrer"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Strict-Transport-Security"].startswith("max-age=")


def test_cors_is_closed_by_default(api_client: APIClient) -> None:
    response = api_client.options(
        "/api/v1/me/",
        HTTP_ORIGIN="https://evil.example",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
    )
    assert "Access-Control-Allow-Origin" not in response
