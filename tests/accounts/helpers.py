"""Small helpers shared by the accounts tests."""

from __future__ import annotations

import re

from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from rest_framework.test import APIClient

from backend.accounts.models import User
from tests.accounts.factories import PASSWORD, TOTPDeviceFactory

ADMIN_LOGIN = "/admin/login/?next=/admin/"
_CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')

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
    """The body without what names this one request (`request_id`, `instance`)."""
    return {key: value for key, value in body.items() if key not in {"request_id", "instance"}}


def admin_sign_in(
    client: Client,
    email: str,
    password: str = PASSWORD,
    *,
    code: str | None = None,
    remote_addr: str = "127.0.0.1",
):
    """Fill in and post the admin's sign-in form as a browser would: fetch the page for
    its CSRF token, then post email, password and (when given) the authenticator code."""
    page = client.get(ADMIN_LOGIN, REMOTE_ADDR=remote_addr)
    assert page.status_code == 200, page.content
    match = _CSRF_FIELD.search(page.content.decode())
    assert match is not None, "no CSRF token on the admin sign-in page"
    data = {
        "csrfmiddlewaretoken": match.group(1),
        "username": email,
        "password": password,
        "next": "/admin/",
    }
    if code is not None:
        data["otp_token"] = code
    return client.post(ADMIN_LOGIN, data, REMOTE_ADDR=remote_addr)


def admin_client_for(user: User) -> Client:
    """A browser signed in to the admin with the second factor checked, as a sign-in with
    a current code leaves it (the admin requires a verified session)."""
    device = TOTPDeviceFactory.create(user=user)
    client = Client()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client
