"""Small helpers shared by the accounts tests."""

from __future__ import annotations

from rest_framework.test import APIClient

from tests.accounts.factories import PASSWORD

PROBLEM_KEYS = {"type", "title", "status", "detail", "code"}


def login(
    client: APIClient,
    email: str,
    password: str = PASSWORD,
    *,
    remote_addr: str = "127.0.0.1",
    **fields,
):
    """POST /api/v1/auth/login/ from `remote_addr`, with any further body `fields`."""
    return client.post(
        "/api/v1/auth/login/",
        {"email": email, "password": password, **fields},
        REMOTE_ADDR=remote_addr,
    )


def authorized(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body: dict = response.json()
    assert body.keys() >= PROBLEM_KEYS
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"urn:afterglow:problem:{code}"
    return body


def without_request_id(body: dict) -> dict:
    return {key: value for key, value in body.items() if key != "request_id"}
