"""/healthz says the process is up; /readyz says the database and the broker answer."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_healthz_answers_ok_without_auth(
    api_client: APIClient, django_assert_max_num_queries
) -> None:
    with django_assert_max_num_queries(0):
        response = api_client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_checks_database_and_redis_broker(api_client: APIClient) -> None:
    response = api_client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True


def test_readyz_reports_an_unreachable_broker(api_client: APIClient, settings) -> None:
    # Port 1 on loopback: nothing listens there, so the connection is refused at once.
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = api_client.get("/readyz")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True
    assert "broker" in body["detail"]
