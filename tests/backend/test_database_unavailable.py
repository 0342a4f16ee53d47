"""A database that is away answers 503 with Retry-After, as a problem document, not 500.

The database really is unreachable here: the connection is closed and pointed at a port
where nothing listens, so every query raises what psycopg raises when PostgreSQL restarts
(connection refused). The module is also the URL configuration of its tests: the project's
URLs plus a plain Django view that queries.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import uuid
from collections.abc import Callable, Iterator

import pytest
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from rest_framework.test import APIClient

from backend.accounts.models import User
from backend.urls import handler400, handler403, handler404, handler500  # noqa: F401 (the project's error views)
from backend.urls import urlpatterns as project_urlpatterns
from tests.journal.factories import make_patient

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.urls("tests.backend.test_database_unavailable"),
]

SECRET = "words from a journal that must not come back"


def count_users(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"users": User.objects.count()})


class CountingMiddleware:
    """Queries before any view runs: a failure here reaches Django's handler500."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        User.objects.count()
        return self.get_response(request)


def bad_query(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM no_such_table")  # ProgrammingError: a bug, not an outage
    return HttpResponse()


urlpatterns = [
    *project_urlpatterns,
    path("test/count-users", count_users),
    path("test/bad-query", bad_query),
]


@contextlib.contextmanager
def database_down() -> Iterator[None]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = str(sock.getsockname()[1])
    saved = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = closed_port
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["PORT"] = saved


def assert_unavailable(response) -> dict:
    assert response.status_code == 503, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response["Retry-After"] == "5"
    body = response.json()
    assert body["code"] == "database_unavailable"
    assert body["type"] == "urn:afterglow:problem:database_unavailable"
    assert body["retry_after_seconds"] == 5
    assert body["request_id"] == response["X-Request-ID"]
    assert SECRET not in response.content.decode()
    return body


def test_a_write_while_the_database_is_down_answers_503_and_its_retry_succeeds(caplog) -> None:
    client = APIClient()
    client.force_authenticate(make_patient())
    entry = {"id": str(uuid.uuid4()), "kind": "note", "title": "Evening", "body": SECRET}

    with caplog.at_level(logging.WARNING), database_down():
        assert_unavailable(client.post("/api/v1/entries/", entry, format="json"))

    warnings = [r for r in caplog.records if r.getMessage() == "database unavailable"]
    assert [r.exception_type for r in warnings] == ["django.db.utils.OperationalError"]
    assert "unhandled exception" not in caplog.text  # an outage, not a bug
    assert SECRET not in caplog.text
    # The app sends the same write again once the database is back: created once.
    retry = client.post("/api/v1/entries/", entry, format="json")
    assert retry.status_code == 201, retry.content
    assert client.get(f"/api/v1/entries/{entry['id']}/").json()["body"] == SECRET


def test_a_measure_that_needs_the_safety_block_keeps_it_when_the_database_is_down() -> None:
    client = APIClient()
    client.force_authenticate(make_patient())
    with database_down():
        response = client.post(
            "/api/v1/measures/", {"instrument": "phq9", "answers": [1] * 8 + [2]}, format="json"
        )
    assert_unavailable(response)
    assert response.json()["safety"]["reason"] == "phq9_item9"


def test_a_plain_django_view_answers_503_when_the_database_is_down() -> None:
    with database_down():
        response = APIClient().get("/test/count-users")
    assert_unavailable(response)
    assert APIClient().get("/test/count-users").json() == {"users": 0}


def test_a_middleware_that_meets_the_database_down_answers_503(settings) -> None:
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE[:1],  # the request id comes first, as in production
        "tests.backend.test_database_unavailable.CountingMiddleware",
        *settings.MIDDLEWARE[1:],
    ]
    client = APIClient(raise_request_exception=False)
    with database_down():
        assert_unavailable(client.get("/healthz"))
    assert client.get("/healthz").status_code == 200


def test_a_database_error_that_no_retry_cures_still_answers_500() -> None:
    response = APIClient(raise_request_exception=False).get("/test/bad-query")
    assert response.status_code == 500
    assert response.json()["code"] == "server_error"
    assert "Retry-After" not in response
