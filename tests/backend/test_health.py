"""/healthz says the process is up; /readyz says the database and the broker answer."""

from __future__ import annotations

from pathlib import Path

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


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


def example_key_ring() -> list[str]:
    """The JOURNAL_KEKS placeholder of .env.example, as a deployment that copied it has."""
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.startswith("JOURNAL_KEKS="):
            return [line.partition("=")[2]]
    raise AssertionError("no JOURNAL_KEKS in .env.example")


def test_readyz_checks_the_key_ring(api_client: APIClient) -> None:
    body = api_client.get("/readyz").json()
    assert body["checks"]["key_ring"]["ok"] is True


def test_readyz_names_an_unusable_key_ring(api_client: APIClient, settings) -> None:
    settings.JOURNAL_KEKS = example_key_ring()

    response = api_client.get("/readyz")

    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "key_ring_unusable"
    assert body["checks"]["key_ring"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True
    assert "key_ring unusable" in body["detail"]
    assert settings.JOURNAL_KEKS[0].partition(":")[2] not in response.content.decode()
